import Foundation
import ShrinkFormats
import ShrinkTensor

/// Time and memory of GPTQ's two parts at a decoder layer's real shapes (issue 14, "7B class"):
/// statistics capture (Σxxᵀ of `rows` synthetic input rows, fed in sequences of `sequence` rows
/// as a forward pass would) and the solve, for the seven linear layers of one Llama block read
/// from a checkpoint. q/k/v share one input, gate/up another, as in a forward pass.
public enum GPTQLayerBenchmark {
    public struct TensorResult: Codable, Sendable {
        public var name: String
        public var rows: Int
        public var columns: Int
        public var solveSeconds: Double
        /// Peak resident memory of the process while solving this tensor.
        public var peakRSSBytes: Int
        public var relativeOutputError: Double?
    }

    public struct Result: Codable, Sendable {
        public var checkpoint: String
        public var layer: Int
        public var calibrationRows: Int
        public var threads: Int
        public var captureSeconds: [String: Double]
        public var tensors: [TensorResult]
        public var totalSeconds: Double
        public var peakRSSBytes: Int
    }

    /// Peak resident set of this process (VmHWM), and a reset of it (clear_refs 5, Linux ≥ 4.0).
    static func peakRSS() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
        }
        return 0
    }

    static func resetPeakRSS() { try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8) }

    /// Deterministic inputs with unevenly scaled, correlated channels (like activations).
    static func inputs(rows: Int, columns: Int, seed: UInt64, into x: inout [Float]) {
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        @inline(__always) func next() -> Float {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return Float(Int64(bitPattern: s >> 11) & 0xFFFFF) / Float(0x80000) - 1
        }
        for r in 0..<rows {
            let shared = next()
            for j in 0..<columns { x[r * columns + j] = next() * Float(1 + j % 5) + shared * Float(j % 3) }
        }
    }

    public static func run(checkpoint: String, layer: Int = 0, calibrationRows: Int = 8192, sequence: Int = 512,
                           scheme: QuantScheme, options: GPTQ.Options, measureError: Bool = false,
                           progress: ((String) -> Void)? = nil) throws -> Result {
        let source = try Checkpoint.open(checkpoint)
        let p = "model.layers.\(layer)."
        let groups: [(input: String, tensors: [String])] = [
            ("attention", ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"]),
            ("o_proj", ["self_attn.o_proj"]),
            ("mlp", ["mlp.gate_proj", "mlp.up_proj"]),
            ("down_proj", ["mlp.down_proj"]),
        ]
        let start = Date()
        var capture: [String: Double] = [:]
        var results: [TensorResult] = []
        for (g, (input, names)) in groups.enumerated() {
            let first = try source.requireInfo(p + names[0] + ".weight")
            let columns = first.shape.dims[1]
            resetPeakRSS()
            let t0 = Date()
            let stats = LayerStatistics(columns: columns)
            var x = [Float](repeating: 0, count: sequence * columns)
            for s in stride(from: 0, to: calibrationRows, by: sequence) {
                let n = min(sequence, calibrationRows - s)
                inputs(rows: n, columns: columns, seed: UInt64(g * 1_000_003 + s), into: &x)
                x.withUnsafeBufferPointer { stats.add($0.baseAddress!, rows: n) }
            }
            capture[input] = Date().timeIntervalSince(t0)
            progress?("capture \(input) [\(calibrationRows) × \(columns)]: \(String(format: "%.2f", capture[input]!)) s")
            x = []
            for name in names {
                let full = p + name + ".weight"
                let info = try source.requireInfo(full)
                let w = try source.floats(full)
                source.release(full)
                resetPeakRSS()
                let t1 = Date()
                let q = try GPTQ.quantize(w, rows: info.shape.dims[0], columns: columns, statistics: stats, scheme: scheme,
                                          options: options, name: full)
                let dt = Date().timeIntervalSince(t1)
                let err = measureError ? relativeOutputError(w, q.dequantized(), rows: info.shape.dims[0], columns: columns, hessian: stats.hessian) : nil
                results.append(TensorResult(name: full, rows: info.shape.dims[0], columns: columns, solveSeconds: dt,
                                            peakRSSBytes: peakRSS(), relativeOutputError: err))
                progress?("gptq \(full) [\(info.shape.dims[0]) × \(columns)]: \(String(format: "%.2f", dt)) s, peak RSS \(peakRSS() >> 20) MiB")
            }
        }
        return Result(checkpoint: checkpoint, layer: layer, calibrationRows: calibrationRows, threads: Parallel.workerCount,
                      captureSeconds: capture, tensors: results, totalSeconds: Date().timeIntervalSince(start),
                      peakRSSBytes: results.map(\.peakRSSBytes).max() ?? 0)
    }
}
