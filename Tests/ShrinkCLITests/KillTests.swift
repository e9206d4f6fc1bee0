import Foundation
import ShrinkFormats
import ShrinkTensor
import ShrinkTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// SIGKILL against the real `shrink` binary while it writes (issue 19): for `quantize`, `dequantize`, every
/// `export` and `plan`, a run is killed at the writers' named points (`KillPoint`: before the first byte,
/// between tensors, before fsync, between fsync and rename, before and after a directory is put in place) and
/// at fractions of a reference run's duration. After every kill the output path is either absent or byte for
/// byte the reference output; only recognisable staging entries (`.<name>.partial-<pid>[.old]`) are left
/// beside it; and a rerun succeeds, writes the reference bytes and removes them. With `--force` over an
/// existing output, a kill leaves the old output or the new one, whole, never a mix.
@Suite(.serialized) struct KillTests {
    /// One command under test. `args(out)` writes its output to `out`.
    struct Case: CustomStringConvertible, Sendable {
        var name: String
        var output: String
        var args: @Sendable (_ out: String) -> [String]
        /// `KillPoint` names the run must reach (each is killed there in turn).
        var points: [String]
        /// Another command writing a different, valid output to the same path (for the `--force` runs), and
        /// the flag that lets the command replace it; nil when the command overwrites files unasked.
        var previous: (@Sendable (_ out: String) -> [String])?
        var forceFlag: String?
        /// Staging entries are `.<output>.partial-<pid>[.old]` (Shrink's writers); with `anyHiddenStaging`, any
        /// hidden entry naming the output (the GGUF writer may stage its own way).
        var anyHiddenStaging = false
        var description: String { name }
    }

    static let trm = Fixtures.path("Fixtures/models/trm_mlp_sudoku6")
    static let sudokuTrain = Fixtures.path("Fixtures/data/sudoku6-train.safetensors")
    static let sudokuTest = Fixtures.path("Fixtures/data/sudoku6-test.safetensors")

    /// A Llama checkpoint of 5.2 M parameters (21 MB, llama-tiny's config widened) that takes the debug
    /// binary a while to quantize, dequantize and export.
    static let bigLlama: String = {
        let dir = NSTemporaryDirectory() + "shrink-kill-llama-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // Shared by every case of the run (21 MB, and its quantized copy): removed when the test process exits.
        atexit {
            let dir = NSTemporaryDirectory() + "shrink-kill-llama-\(getpid())"
            for path in [dir, dir + "-q4"] { try? FileManager.default.removeItem(atPath: path) }
        }
        let config = #"""
        {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 256, "intermediate_size": 768,
         "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 64, "num_hidden_layers": 4,
         "vocab_size": 4096, "max_position_embeddings": 128, "rms_norm_eps": 1e-05, "hidden_act": "silu",
         "rope_parameters": {"rope_theta": 10000.0, "rope_type": "default"}, "tie_word_embeddings": false,
         "attention_bias": false, "mlp_bias": false, "bos_token_id": 1, "eos_token_id": 2}
        """#
        try? config.write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        var tensors: [(String, [Int])] = [("lm_head.weight", [4096, 256]), ("model.embed_tokens.weight", [4096, 256]), ("model.norm.weight", [256])]
        for l in 0..<4 {
            let p = "model.layers.\(l)."
            tensors += [(p + "input_layernorm.weight", [256]), (p + "post_attention_layernorm.weight", [256]),
                        (p + "mlp.down_proj.weight", [256, 768]), (p + "mlp.gate_proj.weight", [768, 256]),
                        (p + "mlp.up_proj.weight", [768, 256]), (p + "self_attn.q_proj.weight", [256, 256]),
                        (p + "self_attn.k_proj.weight", [128, 256]), (p + "self_attn.v_proj.weight", [128, 256]),
                        (p + "self_attn.o_proj.weight", [256, 256])]
        }
        let infos = tensors.map { TensorInfo(name: $0.0, dtype: .f32, shape: Shape($0.1)) }
        var state: UInt64 = 19
        do {
            let w = try SafetensorsWriter(path: dir + "/model.safetensors", tensors: infos)
            for info in infos {
                let isNorm = info.shape.rank == 1
                let values = (0..<info.shape.elementCount).map { _ -> Float in
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    let u = Float(state >> 40) / Float(1 << 24) - 0.5
                    return isNorm ? 1 + 0.1 * u : 0.08 * u
                }
                try w.write(info.name, values: values)
            }
            try w.commit()
        } catch {
            Issue.record("cannot write the test checkpoint: \(error)")
        }
        return dir
    }()

    static let cases: [Case] = [
        Case(name: "quantize", output: "q",
             args: { ["quantize", bigLlama, "-o", $0, "--bits", "4", "--group", "64", "--embeddings", "--quiet"] },
             points: ["safetensors.open", "safetensors.tensor:6", "safetensors.fsync", "safetensors.rename", "atomic.rename",
                      "directory.commit"],
             previous: { ["quantize", bigLlama, "-o", $0, "--bits", "8", "--quiet"] }, forceFlag: "--force"),
        Case(name: "dequantize", output: "d.safetensors",
             args: { ["dequantize", bigLlamaQuantized, "-o", $0, "--quiet"] },
             points: ["safetensors.open", "safetensors.tensor:6", "safetensors.fsync", "safetensors.rename"],
             previous: { ["dequantize", bigLlamaQuantized, "-o", $0, "--dtype", "bf16", "--quiet"] }, forceFlag: nil),
        Case(name: "export gguf", output: "m.gguf",
             args: { ["export", "gguf", bigLlama, "-o", $0, "--type", "q8_0", "--quiet"] },
             points: ["gguf.open", "gguf.tensor:6", "gguf.fsync", "gguf.rename"],
             previous: { ["export", "gguf", bigLlama, "-o", $0, "--type", "q4_0", "--quiet"] }, forceFlag: nil,
             anyHiddenStaging: true),
        Case(name: "export onnx", output: "m.onnx",
             args: { ["export", "onnx", trm, "-o", $0, "--quiet"] },
             points: ["atomic.rename"],
             previous: { ["export", "onnx", trm, "-o", $0, "--steps", "1", "--quiet"] }, forceFlag: nil),
        Case(name: "export c", output: "c",
             args: { ["export", "c", trm, "-o", $0, "--quiet"] },
             points: ["atomic.rename:3", "directory.commit"],
             previous: { ["export", "c", trm, "-o", $0, "--steps", "1", "--quiet"] }, forceFlag: "--force"),
        Case(name: "plan", output: "plan.json",
             args: { ["plan", trm, "--device", "mcu-4mb", "--calib", sudokuTrain, "--data", sudokuTest, "--calib-count", "2",
                      "--limit", "4", "--bits", "4", "--methods", "rtn", "-o", $0, "--quiet"] },
             points: ["atomic.rename"],
             previous: { ["plan", trm, "--device", "soc-8mb-sram", "--calib", sudokuTrain, "--data", sudokuTest, "--calib-count", "2",
                          "--limit", "4", "--bits", "8", "--methods", "rtn", "-o", $0, "--quiet"] }, forceFlag: nil),
    ]

    /// The quantized big Llama, input of `dequantize`.
    static let bigLlamaQuantized: String = {
        let out = bigLlama + "-q4"
        if !FileSystem.isDirectory(out) {
            let r = try? CLI.run(["quantize", bigLlama, "-o", out, "--bits", "4", "--group", "64", "--quiet"])
            if r?.status != 0 { Issue.record("cannot quantize the test checkpoint: \(r?.stderr ?? "")") }
        }
        return out
    }()

    @Test(arguments: cases)
    func aKilledWriteLeavesNoTornOutputAndARerunCleansUp(_ c: Case) throws {
        let dir = TemporaryDirectory()
        let out = dir.file(c.output)

        // The reference: an uninterrupted run, timed.
        let start = Date()
        let ref = try CLI.run(c.args(out))
        let seconds = Date().timeIntervalSince(start)
        #expect(ref.status == 0, "\(c): \(ref.stderr)")
        let reference = try Snapshot(out)
        #expect(reference != nil, "\(c): no output at \(out)")
        try remove(out)

        var kills: [String] = []
        // The named points, then kills at fractions of the reference run (0 = before the first byte).
        let plans: [(point: String?, delay: Double)] = c.points.map { ($0, 0) } + [0, 0.5, 0.9].map { (nil, $0 * seconds) }
        for plan in plans {
            let what = plan.point.map { "at \($0)" } ?? String(format: "after %.2f s", plan.delay)
            let reached = try runAndKill(c.args(out), point: plan.point, delay: plan.delay, ready: dir.file(".ready"))
            if plan.point != nil { #expect(reached, "\(c): the run ended before reaching \(what)") }
            kills.append(what)
            let after = try Snapshot(out)
            #expect(after == nil || after == reference, "\(c): killed \(what), \(out) is torn: \(after?.summary ?? "")")
            #expect(unrecognised(in: dir.path, c).isEmpty,
                    "\(c): killed \(what), unrecognisable files left: \(unrecognised(in: dir.path, c))")
            // The rerun completes, writes the reference bytes, and clears what the killed run left.
            if after != nil { try remove(out) }
            let rerun = try CLI.run(c.args(out))
            #expect(rerun.status == 0, "\(c): rerun after a kill \(what): \(rerun.stderr)")
            #expect(try Snapshot(out) == reference, "\(c): rerun after a kill \(what) differs from the reference")
            #expect(staging(in: dir.path, c).isEmpty,
                    "\(c): rerun after a kill \(what) left \(staging(in: dir.path, c))")
            try remove(out)
        }
        #expect(kills.count == c.points.count + 3)

        // Overwriting a previous, different output: after a kill it is the old output or the new one, whole.
        guard let previous = c.previous else { return }
        let old = try CLI.run(previous(out))
        #expect(old.status == 0, "\(c): \(old.stderr)")
        let oldSnapshot = try #require(try Snapshot(out))
        #expect(oldSnapshot != reference, "\(c): the previous output should differ from the new one")
        let forced = c.args(out) + (c.forceFlag.map { [$0] } ?? [])
        let forcePoints = c.points + (c.forceFlag != nil ? ["directory.replaced"] : [])
        for plan in forcePoints.map({ (point: Optional($0), delay: 0.0) }) + [0.5].map({ (point: String?.none, delay: $0 * seconds) }) {
            let what = plan.point.map { "at \($0)" } ?? String(format: "after %.2f s", plan.delay)
            let reached = try runAndKill(forced, point: plan.point, delay: plan.delay, ready: dir.file(".ready"))
            if plan.point != nil { #expect(reached, "\(c) over an old output: the run ended before reaching \(what)") }
            let after = try Snapshot(out)
            #expect(after == oldSnapshot || after == reference,
                    "\(c) over an old output: killed \(what), \(out) is \(after?.summary ?? "missing"), neither the old output nor the new")
            #expect(unrecognised(in: dir.path, c).isEmpty, "\(c) over an old output: killed \(what), left \(unrecognised(in: dir.path, c))")
            // Put the old output back for the next kill.
            if after != oldSnapshot {
                try remove(out)
                #expect(try CLI.run(previous(out)).status == 0)
            }
        }
        let rerun = try CLI.run(forced)
        let forcedOutput = try Snapshot(out)
        #expect(rerun.status == 0 && forcedOutput == reference, "\(c): the forced rerun: \(rerun.stderr)")
        #expect(staging(in: dir.path, c).isEmpty, "\(c): the forced rerun left \(staging(in: dir.path, c))")
    }

    /// Starts `args`; with `point`, arms that `KillPoint` and kills once the process stops there (returns false
    /// if it exited first); else kills it after `delay` seconds (if it is still running).
    func runAndKill(_ args: [String], point: String?, delay: Double, ready: String) throws -> Bool {
        unlink(ready)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        if let point { env["SHRINK_KILL_POINT"] = point; env["SHRINK_KILL_POINT_READY"] = ready }
        // A killed process cannot remove its scratch (a plan's measurement directory): give it a temporary directory
        // of its own, beside the test's (not in it, whose entries the test checks), removed once the process is gone.
        let scratch = FileSystem.directoryOf(ready) + ".scratch"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        env["TMPDIR"] = scratch
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        var reached = false
        if point != nil {
            let deadline = Date().addingTimeInterval(300)
            while p.isRunning && Date() < deadline {
                if FileSystem.exists(ready) { reached = true; break }
                usleep(2000)
            }
        } else if delay > 0 {
            usleep(useconds_t(delay * 1_000_000))
        }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        unlink(ready)
        return reached
    }

    /// Entries beside the output that are neither the output nor a writer's staging entry.
    func unrecognised(in dir: String, _ c: Case) -> [String] {
        FileSystem.list(dir).filter { $0 != c.output && $0 != ".ready" && !isStaging($0, c) }
    }

    func staging(in dir: String, _ c: Case) -> [String] {
        FileSystem.list(dir).filter { isStaging($0, c) }
    }

    /// `.<output>.partial-<pid>` or that plus `.old`, as `OutputDirectory`, `SafetensorsWriter` and `AtomicFile` name them.
    func isStaging(_ entry: String, _ c: Case) -> Bool {
        if c.anyHiddenStaging { return entry.hasPrefix(".") && entry != ".ready" && entry.contains(c.output) }
        let prefix = "." + c.output + ".partial-"
        guard entry.hasPrefix(prefix) else { return false }
        let rest = entry.dropFirst(prefix.count)
        let digits = rest.prefix { $0.isNumber }
        return !digits.isEmpty && (rest.count == digits.count || rest.dropFirst(digits.count) == ".old")
    }

    func remove(_ path: String) throws {
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
    }
}

/// The bytes of a file, or of every file in a directory, by name.
struct Snapshot: Equatable {
    var files: [String: Data]

    init?(_ path: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return nil }
        if isDir.boolValue {
            var f: [String: Data] = [:]
            for name in try FileManager.default.contentsOfDirectory(atPath: path) {
                f[name] = try Data(contentsOf: URL(fileURLWithPath: path + "/" + name))
            }
            files = f
        } else {
            files = ["": try Data(contentsOf: URL(fileURLWithPath: path))]
        }
    }

    var summary: String { files.keys.sorted().map { "\($0.isEmpty ? "file" : $0): \(files[$0]!.count) bytes" }.joined(separator: ", ") }
}
