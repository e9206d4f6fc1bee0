import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkTensor

/// A deployment target: its memories, sustained arithmetic and bandwidth, each
/// with where the figure comes from. Built-in profiles are JSON a user can copy
/// (`shrink plan --print-device NAME`) and edit (`--device my.json`).
public struct DeviceProfile: Codable, Sendable, Equatable {
    /// Where the resident weights live: in RAM next to the activations, or executed
    /// in place from flash (microcontrollers), leaving RAM to the activations.
    public enum WeightMemory: String, Codable, Sendable { case ram, flash }

    public var name: String
    public var description: String
    public var ramBytes: Int
    public var flashBytes: Int
    public var weightMemory: WeightMemory
    /// Sustained FP32 arithmetic, FLOP/s.
    public var flopsPerSecond: Double
    /// Sustained memory (RAM) read bandwidth, bytes/s.
    public var bandwidthBytesPerSecond: Double
    /// Read bandwidth of the flash that streamed tables come from, bytes/s.
    public var flashBandwidthBytesPerSecond: Double
    /// Figure → source (datasheet, measurement, or stated assumption).
    public var sources: [String: String]

    enum CodingKeys: String, CodingKey {
        case name, description, ramBytes = "ram_bytes", flashBytes = "flash_bytes", weightMemory = "weight_memory"
        case flopsPerSecond = "flops_per_second", bandwidthBytesPerSecond = "bandwidth_bytes_per_second"
        case flashBandwidthBytesPerSecond = "flash_bandwidth_bytes_per_second", sources
    }

    public static let builtInNames = ["jetson-orin-nano-8gb", "soc-8mb-sram", "mcu-4mb", "this-machine"]

    /// A built-in profile by name, or a JSON file.
    public static func resolve(_ nameOrPath: String) throws -> DeviceProfile {
        if nameOrPath == "this-machine" { return measureThisMachine() }
        if let text = builtIn[nameOrPath] { return try parse(Data(text.utf8), file: "built-in profile \(nameOrPath)") }
        guard FileSystem.exists(nameOrPath) else {
            throw PlanError.unknownDevice(name: nameOrPath, known: builtInNames)
        }
        guard let data = FileManager.default.contents(atPath: nameOrPath) else {
            throw FormatError.cannotOpen(file: nameOrPath, reason: "cannot read the device profile")
        }
        return try parse(data, file: nameOrPath)
    }

    /// Decodes and checks a profile; every failure names the file and the field.
    public static func parse(_ data: Data, file: String) throws -> DeviceProfile {
        let p: DeviceProfile
        do { p = try JSONDecoder().decode(DeviceProfile.self, from: data) } catch let e as DecodingError {
            switch e {
            case let .keyNotFound(k, _): throw PlanError.badProfile(file: file, field: k.stringValue, reason: "is missing")
            case let .typeMismatch(_, ctx), let .valueNotFound(_, ctx):
                throw PlanError.badProfile(file: file, field: ctx.codingPath.map(\.stringValue).joined(separator: "."), reason: "has the wrong type")
            case let .dataCorrupted(ctx):
                let field = ctx.codingPath.map(\.stringValue).joined(separator: ".")
                throw PlanError.badProfile(file: file, field: field.isEmpty ? "(document)" : field,
                                           reason: field == "weight_memory" ? "must be \"ram\" or \"flash\"" : "is not valid JSON: \(ctx.debugDescription)")
            @unknown default: throw PlanError.badProfile(file: file, field: "?", reason: "\(e)")
            }
        }
        for (field, value) in [("ram_bytes", Double(p.ramBytes)), ("flash_bytes", Double(p.flashBytes)), ("flops_per_second", p.flopsPerSecond),
                               ("bandwidth_bytes_per_second", p.bandwidthBytesPerSecond),
                               ("flash_bandwidth_bytes_per_second", p.flashBandwidthBytesPerSecond)] where !(value > 0 && value.isFinite) {
            throw PlanError.badProfile(file: file, field: field, reason: "must be a positive number, is \(value)")
        }
        return p
    }

    public func json() throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try e.encode(self), as: UTF8.self) + "\n"
    }

    /// This machine, measured: RAM from /proc/meminfo (MemTotal), read bandwidth
    /// with one thread from `Benchmarks.memoryBandwidth`, FP32 rate from a timed
    /// 256×256×256 GEMM on one thread (batch-1 inference here runs on one core).
    public static func measureThisMachine(bandwidthMegabytes: Int = 256) -> DeviceProfile {
        var ram = 0
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }),
           let kb = Int(line.split(separator: " ").dropFirst().first ?? "") { ram = kb * 1024 }
        if ram == 0 { ram = Int(ProcessInfo.processInfo.physicalMemory) }
        let bandwidth = Benchmarks.memoryBandwidth(megabytes: bandwidthMegabytes, threads: 1, repeats: 3).readGBPerSecond * 1e9
        let flops = gemmFLOPsPerSecond(size: 256, repeats: 5)
        return DeviceProfile(
            name: "this-machine", description: "The machine running shrink, measured now", ramBytes: ram,
            flashBytes: ram, weightMemory: .ram, flopsPerSecond: flops, bandwidthBytesPerSecond: bandwidth,
            flashBandwidthBytesPerSecond: bandwidth,
            sources: ["ram_bytes": "/proc/meminfo MemTotal", "flash_bytes": "no flash: streamed tables are mapped from disk, counted against RAM size",
                      "flops_per_second": "timed 256x256x256 FP32 GEMM (PackedLinear, C kernels), one thread, best of 5",
                      "bandwidth_bytes_per_second": "Benchmarks.memoryBandwidth read, \(bandwidthMegabytes) MB, one thread, best of 3",
                      "flash_bandwidth_bytes_per_second": "same as RAM (page cache)"])
    }

    static func gemmFLOPsPerSecond(size n: Int, repeats: Int) -> Double {
        let w = (0..<(n * n)).map { Float($0 % 17) * 0.01 }
        let layer = PackedLinear(weight: w, outFeatures: n, inFeatures: n)
        let x = (0..<(n * n)).map { Float($0 % 13) * 0.02 }
        var y = [Float](repeating: 0, count: n * n)
        var best = Double.infinity
        for _ in 0..<repeats {
            let t0 = Benchmarks.now()
            x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { layer.apply(xp.baseAddress!, rows: n, into: $0.baseAddress!) } }
            best = min(best, Benchmarks.now() - t0)
        }
        return Double(2 * n * n * n) / best
    }

    /// The built-in profiles as JSON text (the same a user copies and edits).
    public static let builtIn: [String: String] = [
        "jetson-orin-nano-8gb": """
        {
          "name": "jetson-orin-nano-8gb",
          "description": "NVIDIA Jetson Orin Nano 8GB module: 8 GB LPDDR5 shared by CPU and GPU; weights load into RAM from storage",
          "ram_bytes": 8589934592,
          "flash_bytes": 64000000000,
          "weight_memory": "ram",
          "flops_per_second": 1.28e12,
          "bandwidth_bytes_per_second": 68e9,
          "flash_bandwidth_bytes_per_second": 1.0e8,
          "sources": {
            "ram_bytes": "NVIDIA Jetson Orin Nano Series datasheet (DS-11105): 8 GB 128-bit LPDDR5",
            "bandwidth_bytes_per_second": "same datasheet: 68 GB/s",
            "flops_per_second": "1024 Ampere CUDA cores x 2 FLOP (FMA) x 625 MHz = 1.28 TFLOP/s FP32 peak (datasheet GPU clock); sustained is lower",
            "flash_bytes": "assumed 64 GB microSD card as storage (the module has no eMMC)",
            "flash_bandwidth_bytes_per_second": "assumed UHS-I microSD sequential read, about 100 MB/s"
          }
        }
        """,
        "soc-8mb-sram": """
        {
          "name": "soc-8mb-sram",
          "description": "An edge SoC with 8 MB on-chip SRAM and no DRAM (weights and activations in SRAM) plus 16 MB external QSPI NOR flash for streamed tables",
          "ram_bytes": 8388608,
          "flash_bytes": 16777216,
          "weight_memory": "ram",
          "flops_per_second": 1.0e10,
          "bandwidth_bytes_per_second": 6.4e9,
          "flash_bandwidth_bytes_per_second": 6.6e7,
          "sources": {
            "ram_bytes": "the paper's 8 MB SoC target (arXiv 2606.26488): 8 MiB on-chip SRAM",
            "flash_bytes": "assumed 128 Mbit QSPI NOR, e.g. Winbond W25Q128JV (16 MiB)",
            "flash_bandwidth_bytes_per_second": "W25Q128JV datasheet: 133 MHz quad I/O = 66 MB/s",
            "flops_per_second": "assumed 10 GFLOP/s sustained FP32 (e.g. a 1 GHz dual-issue 128-bit SIMD core at about 60% of its 16 GFLOP/s peak)",
            "bandwidth_bytes_per_second": "assumed 64-bit SRAM port at 800 MHz = 6.4 GB/s"
          }
        }
        """,
        "mcu-4mb": """
        {
          "name": "mcu-4mb",
          "description": "A microcontroller with 4 MB of internal flash (weights executed in place) and 2.5 MB SRAM (activations): ST STM32U5A9/U5G9 (Cortex-M33, 160 MHz)",
          "ram_bytes": 2621440,
          "flash_bytes": 4194304,
          "weight_memory": "flash",
          "flops_per_second": 1.6e8,
          "bandwidth_bytes_per_second": 6.4e8,
          "flash_bandwidth_bytes_per_second": 6.4e8,
          "sources": {
            "ram_bytes": "STM32U5A9xJ datasheet (DS13812): 2.5 Mbytes SRAM; the split is the part's own: 4 MB flash for weights, SRAM for activations",
            "flash_bytes": "same datasheet: 4 Mbytes dual-bank flash with ECC",
            "flops_per_second": "Cortex-M33 single-precision FPU: 1 FMA (2 FLOP) per cycle at 160 MHz = 0.32 GFLOP/s peak; assumed half sustained",
            "bandwidth_bytes_per_second": "assumed 128-bit flash line at 160 MHz with 4 wait states behind the ART accelerator = 0.64 GB/s",
            "flash_bandwidth_bytes_per_second": "internal flash, as bandwidth_bytes_per_second"
          }
        }
        """,
    ]
}
