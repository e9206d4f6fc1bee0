import CShrinkKernels
import Dispatch
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Throughput measurements behind `shrink bench` (BENCHMARKS.md). Performance is
/// measured here, never asserted in tests.
public enum Benchmarks {
    public struct QuantizeResult: Codable, Sendable {
        public var checkpoint: String
        public var scheme: String
        public var threads: Int
        public var isa: String
        public var inputBytes: Int
        /// Best of `repeats` runs of the in-memory kernel (range, quantize, pack, error) over all weights.
        public var kernelSeconds: Double
        public var kernelGBPerSecond: Double
        /// Best end-to-end `quantize` (mapped read, kernel, streaming write) into a scratch directory.
        public var endToEndSeconds: Double
        public var endToEndGBPerSecond: Double
        public var repeats: Int
    }

    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    public static func quantize(checkpoint path: String, options: QuantizeOptions, repeats: Int, scratch: String) throws -> QuantizeResult {
        let source = try Checkpoint.open(path)
        let decisions = try QuantizeJob.plan(source, options: options).filter { $0.scheme != nil }
        let bytes = decisions.reduce(0) { $0 + $1.info.elementCount * 4 }
        // Kernel: weights decoded once into memory, so only the arithmetic is timed.
        let weights = try decisions.map { try source.floats($0.info.name) }
        var kernel = Double.infinity
        for _ in 0..<max(1, repeats) {
            let t0 = now()
            for (d, w) in zip(decisions, weights) {
                _ = try RoundToNearest.quantize(w, rows: d.info.shape.dims[0], columns: d.info.shape.dims[1], scheme: d.scheme!, name: d.info.name)
            }
            kernel = min(kernel, now() - t0)
        }
        var endToEnd = Double.infinity
        for _ in 0..<max(1, repeats) {
            let t0 = now()
            try QuantizeJob.run(try Checkpoint.open(path), options: options, outputDirectory: scratch, overwrite: true)
            endToEnd = min(endToEnd, now() - t0)
        }
        let s = decisions.first?.scheme
        return QuantizeResult(
            checkpoint: path,
            scheme: s.map { "int\($0.bits) \($0.granularity) \($0.symmetric ? "symmetric" : "asymmetric")" } ?? "none",
            threads: Parallel.workerCount, isa: String(cString: sk_isa()), inputBytes: bytes,
            kernelSeconds: kernel, kernelGBPerSecond: Double(bytes) / kernel / 1e9,
            endToEndSeconds: endToEnd, endToEndGBPerSecond: Double(bytes) / endToEnd / 1e9, repeats: repeats)
    }

    public struct BandwidthResult: Codable, Sendable {
        public var bytes: Int
        public var threads: Int
        /// Copy bandwidth counted as bytes read + bytes written, per second.
        public var copyGBPerSecond: Double
        /// Read-only bandwidth (a sum over the buffer).
        public var readGBPerSecond: Double
    }

    /// This machine's memory bandwidth with `threads` workers, for context next to
    /// the quantizer's throughput.
    public static func memoryBandwidth(megabytes: Int = 512, threads: Int, repeats: Int = 5) -> BandwidthResult {
        let count = megabytes * 1_000_000 / 4
        let src = UnsafeMutablePointer<Float>.allocate(capacity: count)
        let dst = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { src.deallocate(); dst.deallocate() }
        for i in 0..<count { src[i] = Float(i & 1023) }
        dst.initialize(repeating: 0, count: count)
        let p = UnsafeSendable((src, dst))
        func run(_ body: @escaping @Sendable (Range<Int>) -> Void) -> Double {
            var best = Double.infinity
            for _ in 0..<repeats {
                let t0 = now()
                DispatchQueue.concurrentPerform(iterations: threads) { c in body(count * c / threads..<count * (c + 1) / threads) }
                best = min(best, now() - t0)
            }
            return best
        }
        let copy = run { r in memcpy(p.pointer.1 + r.lowerBound, p.pointer.0 + r.lowerBound, r.count * 4) }
        let read = run { r in
            var mn: Float = 0, mx: Float = 0
            _ = sk_minmax_f32(p.pointer.0 + r.lowerBound, r.count, &mn, &mx)
        }
        return BandwidthResult(bytes: count * 4, threads: threads,
                               copyGBPerSecond: Double(2 * count * 4) / copy / 1e9,
                               readGBPerSecond: Double(count * 4) / read / 1e9)
    }
}


extension Benchmarks {
    public struct GPTQResult: Codable, Sendable {
        public struct Layer: Codable, Sendable {
            public var name: String
            public var shape: [Int]
            public var error: Double
            public var rtnError: Double
            public var seconds: Double
        }
        public var model: String
        public var puzzles: Int
        public var threads: Int
        public var captureSeconds: Double
        public var gptqSeconds: Double
        public var layers: [Layer]
    }

    /// Capture on calibration puzzles, then GPTQ of every linear layer from the FP32
    /// statistics, timed separately (the same protocol as tools/reference/bench_gptq.py).
    public static func gptq(modelDirectory: String, calibration: String, count: Int, scheme: QuantScheme,
                            options: GPTQ.Options) throws -> GPTQResult {
        let model = try RecursiveReasoner.load(directory: modelDirectory)
        let t0 = now()
        let (stats, summary) = try PuzzleTask.calibrationStatistics(model, calibration: calibration, count: count, batchSize: 256)
        let n = summary.puzzles
        let capture = now() - t0
        let source = try Checkpoint.open(modelDirectory)
        var layers: [GPTQResult.Layer] = []
        var total = 0.0
        for name in stats.keys.sorted() {
            let info = try source.requireInfo(name)
            let rows = info.shape.dims[0], columns = info.shape.dims[1]
            var s = scheme
            if let g = s.granularity.groupSize, columns % g != 0 { s.granularity = .channel }
            let w = try source.floats(name), h = stats[name]!.hessian
            let t = now()
            let q = try GPTQ.quantize(w, rows: rows, columns: columns, hessian: h, scheme: s, options: options, name: name)
            let dt = now() - t
            total += dt
            let r = try RoundToNearest.quantize(w, rows: rows, columns: columns, scheme: s, name: name)
            layers.append(.init(name: name, shape: [rows, columns],
                                error: relativeOutputError(w, q.dequantized(), rows: rows, columns: columns, hessian: h),
                                rtnError: relativeOutputError(w, r.dequantized(), rows: rows, columns: columns, hessian: h), seconds: dt))
        }
        return GPTQResult(model: modelDirectory, puzzles: n, threads: Parallel.workerCount, captureSeconds: capture, gptqSeconds: total, layers: layers)
    }

    public struct GGUFDequantizeResult: Codable, Sendable {
        public struct PerType: Codable, Sendable {
            public var type: String
            public var tensors: Int
            public var elements: Int
            public var storedBytes: Int
            /// Decoded floats written per second (4 bytes each), GB/s: one thread on the dispatched path,
            /// all threads through `dequantizeRows`, and one thread on the scalar reference.
            public var oneThreadGBPerSecond: Double
            public var allThreadsGBPerSecond: Double
            public var referenceGBPerSecond: Double
        }

        public var file: String
        public var threads: Int
        public var fastPath: Bool
        public var types: [PerType]
        public var repeats: Int
    }

    /// Decodes every tensor of a GGUF file into a reused buffer, best of `repeats`, grouped by ggml type.
    public static func ggufDequantize(path: String, repeats: Int) throws -> GGUFDequantizeResult {
        let r = try GGUFReader(path: path)
        var groups: [GGMLType: [GGUFReader.Tensor]] = [:]
        for n in r.tensorOrder { let t = r.tensor(n)!; groups[t.type, default: []].append(t) }
        let largest = r.tensorOrder.map { r.tensor($0)!.elementCount }.max() ?? 0
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(1, largest))
        defer { buffer.deallocate() }
        for n in r.tensorOrder { _ = try r.blockBytes(n) }  // map the pages first
        var out: [GGUFDequantizeResult.PerType] = []
        for type in GGMLType.allCases {
            guard let ts = groups[type] else { continue }
            func best(_ body: () throws -> Void) rethrows -> Double {
                var b = Double.infinity
                for _ in 0..<max(1, repeats) {
                    let t0 = now()
                    try body()
                    b = min(b, now() - t0)
                }
                return b
            }
            let one = try best { for t in ts { type.dequantize(try r.blockBytes(t.name).baseAddress!, elements: t.elementCount, into: buffer) } }
            let all = try best { for t in ts { try r.dequantizeRows(t.name, rows: 0..<t.rowCount, into: buffer) } }
            let ref = try best { for t in ts { type.dequantize(try r.blockBytes(t.name).baseAddress!, elements: t.elementCount, into: buffer, reference: true) } }
            let elements = ts.reduce(0) { $0 + $1.elementCount }
            let gb = Double(elements * 4) / 1e9
            out.append(.init(type: type.name, tensors: ts.count, elements: elements, storedBytes: ts.reduce(0) { $0 + $1.byteCount },
                             oneThreadGBPerSecond: gb / one, allThreadsGBPerSecond: gb / all, referenceGBPerSecond: gb / ref))
        }
        return GGUFDequantizeResult(file: path, threads: Parallel.workerCount, fastPath: GGMLType.hasFastDequantizer, types: out, repeats: repeats)
    }
}

