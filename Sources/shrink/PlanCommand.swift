import ArgumentParser
import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels
import ShrinkPlan
import ShrinkQuant
import ShrinkTensor

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Choose per-tensor bits and recursion depth that fit a device, apply them and measure the result.",
        discussion: "Several MODEL directories are planned to co-reside on the device. The plan JSON is a recipe for `shrink quantize --recipe`.")

    @Argument(help: "Model directories (a stack when more than one).")
    var models: [String] = []

    @Option(help: "A stack manifest (JSON): components of any family (VAEs, decoders, config-only accounts), each with its recipe and the data it is measured on; see plans/jetson-stack-manifest.json.")
    var stack: String?

    @Option(help: "With --stack: the total bytes allowed (weights + KV caches + activations), e.g. 1GB; overrides the manifest's budget.")
    var budget: String?

    @Option(help: "Device: jetson-orin-nano-8gb, soc-8mb-sram, mcu-4mb, this-machine, or a profile JSON file (a language model is planned under --max-bytes or --bpw instead).")
    var device: String?

    @Option(help: "Least puzzle-exact accuracy; depths are tried from one step up and the first measured at or above it is taken.")
    var minExact: Double?

    @Option(help: "Cap on all weight bytes together, e.g. 4MB, 512KB, 1500000.")
    var maxBytes: String?

    @Option(help: "Calibration puzzles (training split), one per model or one for all, comma-separated; a calibration text for a language model.")
    var calib: String?

    @Option(help: "Language model: bits per weight over all parameters (instead of --max-bytes).")
    var bpw: Double?

    @Option(help: "Language model: the held-out text the applied recipe is measured on.")
    var text: String?

    @Option(help: "Language model: chunks of --text to measure on (default: all).")
    var chunks: Int?

    @Option(help: "Language model: granularities to consider, comma-separated: channel, g32, g64, g128.")
    var granularities = "g32"

    @Flag(help: "Language model: consider zero-point (asymmetric) options too.")
    var asym = false

    @Option(help: "Language model: grids of the options, comma-separated: integer, ggml-sym (Q4_0/Q5_0's scale rule).")
    var grids = "ggml-sym"

    @Option(help: "Language model: scale dtype of the options (f16 maps to GGUF's legacy blocks).")
    var scaleDtype = "f16"

    @Option(help: "Language model: calibration chunks the sensitivities score.")
    var sensitivityChunks = 1

    @Flag(help: "Language model: keep the output head (and a tied input table) as stored.")
    var keepHead = false

    @Option(help: "Language model: reuse the sensitivities (candidates) of an earlier plan of the same model and only solve the budget.")
    var reuse: String?

    @Option(help: "Held-out puzzles, one per model or one for all, comma-separated.")
    var data: String?

    @Option(help: "Calibration puzzles run per sensitivity measurement (and for GPTQ's statistics).")
    var calibCount = 32

    @Option(help: "Quantization methods to consider, comma-separated: rtn, mse, gptq.")
    var methods = "rtn,mse,gptq"

    @Option(help: "Test puzzles per evaluation.")
    var limit: Int?

    @Option(help: "Bit widths to consider, comma-separated.")
    var bits = "8,6,4,3,2"

    @Option(help: "Reasoners: low-rank compensation ranks to offer on top of every quantization option, comma-separated (e.g. 8,16); each costs its F16 factors' bytes.")
    var ranks: String?

    @Option(help: "With --ranks: svd or eora (the residual's SVD in the eigenspace of the layer's inputs, from the calibration puzzles).")
    var lowRankMethod = "eora"

    @Option(name: [.short, .long], help: "Write the plan (JSON) here.")
    var output: String?

    @Flag(help: "Print the device profile JSON (to copy and edit) and stop.")
    var printDevice = false

    @Option(help: "Reasoners: measure only shard I of N of the tensor options' sensitivities (I from 0) and write them to -o for `shrink merge`, which plans on all shards' (run it from the same directory).")
    var shard: String?


    @OptionGroup var out: OutputOptions

    static func parseBytes(_ text: String) throws -> Int {
        guard let n = StackManifest.parseBytes(text) else { throw ValidationError("--max-bytes '\(text)' is not a size; use e.g. 4MB, 512KB or 1500000") }
        return n
    }

    func perModel(_ list: String?, flag: String) throws -> [String] {
        guard let list else { throw ValidationError("\(flag) is required (one per model, or one for all)") }
        let items = list.split(separator: ",").map(String.init)
        if items.count == 1 { return Array(repeating: items[0], count: models.count) }
        guard items.count == models.count else { throw ValidationError("\(flag) lists \(items.count) files for \(models.count) models") }
        return items
    }

    func run() throws { try run(measured: nil) }

    /// - Parameter measured: every shard's sensitivities (`shrink merge`), used instead of measuring them.
    func run(measured: [[[Planner.Candidate]]]?) throws {
        if let stack { return try runStack(stack) }
        if budget != nil { throw ValidationError("--budget applies to --stack; plan models under --max-bytes") }
        guard !models.isEmpty else { throw ValidationError("give MODEL directories, or --stack STACK.json") }
        if let first = models.first, let family = try? ModelRegistry.family(config: first), family is any LanguageModelFamily {
            return try runLanguage()
        }
        guard let device else { throw ValidationError("--device is required: jetson-orin-nano-8gb, soc-8mb-sram, mcu-4mb, this-machine or a profile JSON") }
        let profile = try DeviceProfile.resolve(device)
        if printDevice { print(try profile.json(), terminator: ""); return }
        var o = Planner.Options()
        o.maxBytes = try maxBytes.map(Self.parseBytes)
        o.minExact = minExact
        o.calibrationCount = calibCount
        o.limit = limit
        o.bits = try bitWidths(bits)
        o.methods = try commaList(methods, flag: "--methods") { Method(rawValue: $0) }
        if o.methods.isEmpty { throw ValidationError("--methods lists no method; use rtn, mse and/or gptq") }
        if let ranks {
            o.ranks = try commaList(ranks, flag: "--ranks") { Int($0).flatMap { $0 >= 1 ? $0 : nil } }
            guard let m = LowRankCompensation.Method(rawValue: lowRankMethod) else {
                throw ValidationError("--low-rank-method '\(lowRankMethod)' is unknown; use svd or eora")
            }
            o.lowRankMethod = m
        } else if lowRankMethod != "eora" {
            throw ValidationError("--low-rank-method needs --ranks")
        }
        if calibCount < 1 { throw ValidationError("--calib-count \(calibCount) must be at least 1") }
        let calibs = try perModel(calib, flag: "--calib"), tests = try perModel(data, flag: "--data")
        let requests = models.indices.map { Planner.Request(directory: models[$0], calibration: calibs[$0], data: tests[$0]) }
        if let shard {
            guard let output else { throw ValidationError("--shard needs -o PART.json for the partial result") }
            o.shard = try Shard(parsing: shard)
            let arguments = Self.replayArguments(Array(CommandLine.arguments.dropFirst(2)))
            var f = GridFingerprint()
            for r in requests { try f.add(file: r.directory); try f.add(file: r.calibration); try f.add(file: r.data) }
            f.add(text: arguments.joined(separator: "\u{1}"))
            let part = Planner.Part(fingerprint: f.value, shard: o.shard!, arguments: arguments,
                                    sensitivities: try Planner.sensitivities(requests, options: o, progress: out.progress))
            try AtomicFile.write(String(decoding: try Recipe.encoder().encode(part), as: UTF8.self) + "\n", to: output)
            let count = part.sensitivities.joined().joined().filter { $0.index >= 0 }.count
            return try out.emit(part) { "wrote \(output): shard \(o.shard!) of the plan's sensitivities, \(count) tensor options measured" }
        }
        let plan = try Planner.run(requests, device: profile, options: o, measured: measured, progress: out.progress)
        if let output {
            try AtomicFile.write(String(decoding: try Recipe.encoder().encode(plan), as: UTF8.self) + "\n", to: output)
        }
        try out.emit(plan) { Format.plan(plan) }
    }
}

extension PlanCommand {
    /// The plan's own arguments: without --shard, -o/--output (and their values), --json and --quiet.
    static func replayArguments(_ arguments: [String]) -> [String] {
        var kept: [String] = [], skip = false
        for a in arguments {
            if skip { skip = false; continue }
            if ["--shard", "-o", "--output"].contains(a) { skip = true; continue }
            if a.hasPrefix("--shard=") || a.hasPrefix("--output=") || ["--json", "--quiet", "-q"].contains(a) { continue }
            kept.append(a)
        }
        return kept
    }

    /// A decoder: a recipe under --max-bytes or --bpw from KLD sensitivities, measured on --text.
    func runLanguage() throws {
        guard models.count == 1 else { throw ValidationError("a language model is planned alone; give one MODEL") }
        if shard != nil { throw ValidationError("--shard shards reasoner plans; a language model's sensitivities are reused with --reuse instead") }
        if ranks != nil { throw ValidationError("--ranks plans reasoners; a language model's plan chooses bits, groups and methods") }
        guard let calib else { throw ValidationError("--calib TEXT is required (the calibration text; never the --text it is measured on)") }
        if device != nil { throw ValidationError("--device applies to reasoners; plan a language model under --max-bytes or --bpw") }
        var o = LanguagePlanner.Options()
        o.maxBytes = try maxBytes.map(Self.parseBytes)
        o.bitsPerWeight = bpw
        if o.maxBytes == nil && bpw == nil { throw ValidationError("give --max-bytes BYTES or --bpw BITS for a language model") }
        if let b = bpw, !(b > 0) { throw ValidationError("--bpw \(b) must be positive") }
        o.bits = try bitWidths(bits == "8,6,4,3,2" ? "8,5,4" : bits)
        o.methods = try commaList(methods == "rtn,mse,gptq" ? "rtn,gptq" : methods, flag: "--methods") { Method(rawValue: $0) }
        if o.methods.isEmpty { throw ValidationError("--methods lists no method; use rtn, mse and/or gptq") }
        o.granularities = try granularityList(granularities)
        o.asymmetric = asym
        o.grids = try commaList(grids, flag: "--grids") { QuantScheme.Grid(rawValue: $0) }
        o.scaleDType = try scaleDType(scaleDtype)
        o.quantizeHead = !keepHead
        if calibCount < 1 { throw ValidationError("--calib-count \(calibCount) must be at least 1") }
        if sensitivityChunks < 1 { throw ValidationError("--sensitivity-chunks \(sensitivityChunks) must be at least 1") }
        o.calibrationChunks = calibCount
        o.sensitivityChunks = sensitivityChunks
        if let reuse {
            struct Earlier: Decodable { var candidates: [LanguagePlanner.Candidate] }
            guard let data = FileManager.default.contents(atPath: reuse) else { throw ValidationError("--reuse \(reuse): cannot read the file") }
            do { o.reuse = try JSONDecoder().decode(Earlier.self, from: data).candidates } catch {
                throw ValidationError("--reuse \(reuse): not a language-model plan with candidates (\(error))")
            }
        }
        o.evaluationText = text
        o.evaluationChunks = chunks
        o.seed = 0
        let plan = try LanguagePlanner.run(model: models[0], calibration: calib, options: o, progress: out.progress)
        if let output {
            try AtomicFile.write(String(decoding: try Recipe.encoder().encode(plan), as: UTF8.self) + "\n", to: output)
        }
        try out.emit(plan) { Format.languagePlan(plan) }
    }
}

extension PlanCommand {
    /// A heterogeneous stack from its manifest: every component compressed, measured and accounted (`StackPlanner`).
    func runStack(_ path: String) throws {
        guard models.isEmpty else { throw ValidationError("--stack takes its models from the manifest; give no MODEL arguments") }
        let manifest = try StackManifest.load(path)
        guard let name = device ?? manifest.device else { throw ValidationError("--device is required (or \"device\" in \(path)): jetson-orin-nano-8gb, soc-8mb-sram, mcu-4mb, this-machine or a profile JSON") }
        let profile = try DeviceProfile.resolve(name)
        let budgetBytes = try budget.map { text -> Int in
            guard let n = StackManifest.parseBytes(text) else { throw ValidationError("--budget '\(text)' is not a size; use e.g. 1GB, 512MiB or 1500000") }
            return n
        }
        let plan = try StackPlanner.run(manifest, device: profile, budgetBytes: budgetBytes, progress: out.progress)
        if let output {
            try AtomicFile.write(String(decoding: try Recipe.encoder().encode(plan), as: UTF8.self) + "\n", to: output)
        }
        try out.emit(plan) { Format.stackPlan(plan) }
    }
}

extension Format {
    static func stackPlan(_ p: StackPlanner.Plan) -> String {
        var s = "\(p.name) on \(p.device.name) (\(p.manifest))\n"
        let rows = p.components.map { c -> [String] in
            let kv = c.kvCache.map { "\(bytes($0.bytes)) (\($0.context) tokens, \($0.dtype))" } ?? "–"
            return [c.name, c.family, "\(bytes(c.weightBytes)) (\(c.weightBytesFrom))", kv, bytes(c.activationBytes), bytes(c.totalBytes)]
        }
        let t = p.totals
        s += table(["component", "family", "weights", "KV cache", "activations", "total"],
                   rows + [["total", "", bytes(t.weightBytes), bytes(t.kvCacheBytes), bytes(t.activationBytes), bytes(t.totalBytes)]],
                   rightAligned: [4, 5]) + "\n"
        for c in p.components {
            s += "\n\(c.name) (\(count(c.parameters)) parameters, \(bytes(c.originalWeightBytes)) as stored)\n"
            s += "  recipe: \(c.recipe)\n"
            s += "  quality: \(c.quality.summary)\n"
            if let l = c.quality.label { s += "  label: \(l.evidence.rawValue): \(l.claim) (\(l.reason))\n" }
        }
        s += "\nRAM \(bytes(t.ramBytes)) of \(bytes(p.device.ramBytes)) (\(fixed(100 * Double(t.ramBytes) / Double(p.device.ramBytes), 1))%): "
        s += p.fitsDevice ? "fits \(p.device.name)\n" : "does not fit \(p.device.name)\n"
        if let b = p.budgetBytes, let ok = p.fitsBudget {
            s += "budget \(bytes(b)): \(bytes(t.totalBytes)) (\(fixed(100 * Double(t.totalBytes) / Double(b), 1))%): " + (ok ? "fits the budget\n" : "does not fit the budget\n")
        }
        s += "assumptions:\n" + p.assumptions.map { "  - " + $0 }.joined(separator: "\n")
        return s
    }

    static func languagePlan(_ p: LanguagePlanner.Plan) -> String {
        var s = "\(p.verdict)\n\(p.model) (\(p.family), \(p.parameters) parameters, \(p.originalBytes) bytes as stored)\n"
        let counts = Dictionary(grouping: p.quantize.values, by: \.description).map { "\($0.value.count)× \($0.key)" }.sorted()
        s += "  recipe: \(counts.isEmpty ? "all kept" : counts.joined(separator: ", ")), scales \(p.scaleDtype)\n"
        if let n = p.calibrationPuzzles {
            s += "  gptq tensors calibrate on the first \(n) chunks of \(p.calibration): `shrink quantize MODEL --recipe PLAN --calib \(p.calibration) --scale-dtype \(p.scaleDtype)` applies it\n"
        }
        s += "  | | predicted | measured |\n  |---|---|---|\n"
        s += "  | tensor bytes | \(p.predictedBytes) | \(p.measurement.map { String($0.writtenTensorBytes) } ?? "–") |\n"
        s += "  | bits per weight | \(fixed(p.predictedBitsPerWeight, 3)) | \(p.measurement.map { fixed($0.bitsPerWeight, 3) } ?? "–") |\n"
        s += "  | mean KLD | \(fixed(p.predictedKld, 5)) (sum over tensors) | \(p.measurement.map { fixed($0.kld.value, 5) + " ± " + fixed($0.kld.error, 5) } ?? "–") |\n"
        if let m = p.measurement {
            s += "  | 99th-percentile KLD | | \(fixed(m.kldP99, 5)) |\n"
            s += "  | same top token | | \(fixed(100 * m.sameTop.value, 2)) ± \(fixed(100 * m.sameTop.error, 2)) % |\n"
            s += "  | PPL | | \(fixed(m.perplexity.value, 3)) (original \(fixed(m.originalPerplexity.value, 3))) on \(m.chunks) chunks of \(m.text) |\n"
            s += "  | label | | \(m.label.evidence.rawValue): \(m.label.claim) |\n"
        }
        return s
    }

    static func plan(_ p: Planner.Plan) -> String {
        var s = "\(p.verdict)\n"
        for m in p.models {
            let pr = m.prediction
            s += "\n\(m.name) (\(m.family), \(m.parameters) parameters): \(m.steps) supervision steps, H_cycles \(m.hCycles), L_cycles \(m.lCycles)\n"
            let counts = Dictionary(grouping: m.quantize.values, by: \.description).map { "\($0.value.count)× \($0.key)" }.sorted()
            s += "  recipe: \(counts.isEmpty ? "all kept" : counts.joined(separator: ", "))"
            s += m.streamedTables.isEmpty ? "\n" : "; streamed from flash: \(m.streamedTables.joined(separator: ", "))\n"
            if let n = m.calibrationPuzzles {
                s += "  gptq tensors calibrate on the first \(n) puzzles of --calib: `shrink quantize --recipe PLAN --calib TRAIN` applies it\n"
            }
            s += "  | | predicted | measured |\n  |---|---|---|\n"
            s += "  | weight bytes | \(pr.weightBytes) | \(m.measurement.map { String($0.writtenTensorBytes) } ?? "–") |\n"
            s += "  | RAM peak | \(pr.ramBytes) (activations \(pr.activationBytes)) | |\n"
            s += "  | flash | \(pr.flashBytes) | |\n"
            s += "  | MFLOP/puzzle | \(fixed(Double(pr.flopsPerPuzzle) / 1e6, 1)) | |\n"
            s += "  | latency on \(p.device.name) | \(fixed(pr.latencySeconds * 1e3, 3)) ms | |\n"
            s += "  | error (carry + logit 1 − cos) | \(fixed(pr.carryError, 5)) | carry fidelity \(m.measurement.map { fixed($0.carryFidelity, 5) } ?? "–") |\n"
            if let me = m.measurement {
                s += "  | exact | | \(interval(me.exact)) (FP32 \(interval(me.fp32Exact))) |\n"
                s += "  | cell | | \(interval(me.cell)) |\n"
                s += "  | label | | \(me.label.evidence.rawValue): \(me.label.claim) |\n"
            }
        }
        return s
    }
}
