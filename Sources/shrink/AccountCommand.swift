import ArgumentParser
import Foundation
import ShrinkModels
import ShrinkPlan
import ShrinkQuant

struct AccountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "account",
        abstract: "Parameters, weight bytes under a recipe, working memory and FLOPs, from a config alone (no weights needed).",
        discussion: "CONFIG is a TRM/HRM config.json (upstream field names) or a Hugging Face decoder config.json, or a directory holding one.")

    @Argument(help: "config.json, or a directory holding one.")
    var config: String

    @Option(help: "Quantize every quantizable 2-D weight to this many bits (2–8); omit to count the tensors as stored.")
    var bits: Int?

    @Option(help: "Group size along the input (default: one scale per output channel).")
    var group: Int?

    @Flag(help: "Quantize the row-read tables (embeddings) too.")
    var embeddings = false

    @Option(help: "Supervision steps for a reasoner's FLOPs (default: halt_max_steps).")
    var steps: Int?

    @Option(help: "Tokens of context for a decoder's KV cache and FLOPs.")
    var context = 2048

    @Option(help: "Also say whether it fits this device: a built-in name or a profile JSON file.")
    var device: String?

    @OptionGroup var out: OutputOptions

    func run() throws {
        if let bits, !QuantScheme.supportedBits.contains(bits) { throw ValidationError("--bits \(bits): use 2 to 8") }
        if let group, group < 1 { throw ValidationError("--group \(group) must be positive") }
        if group != nil && bits == nil { throw ValidationError("--group needs --bits") }
        if let steps, steps < 1 { throw ValidationError("--steps \(steps) must be at least 1") }
        if context < 1 { throw ValidationError("--context \(context) must be at least 1") }
        let model = try ModelRegistry.family(config: config)
        let choice = bits.map { TensorChoice(bits: $0, granularity: group.map { .group($0) } ?? .channel, method: .rtn) }
        // A GGUF file is its own config: count its tensors as they are stored (block types, not FP32).
        let stored = ModelLocation(config).isGGUF ? model.presenting(try ModelLocation(config).openWeights()) : nil
        let r = ConfigAccount.make(model, choice: choice, quantizeRowRead: embeddings, steps: steps, context: context,
                                   device: try device.map { try DeviceProfile.resolve($0) }, stored: stored)
        try out.emit(r) {
            var s = "\(config): \(r.family), \(Format.count(r.parameters)) parameters (\(Format.bytes(r.fp32Bytes)) in FP32)\n"
            s += "  weights (\(r.recipe)): \(Format.bytes(r.weightBytes)), of which row-read tables \(Format.bytes(r.rowReadBytes))\n"
            s += "  working memory, batch 1: \(Format.bytes(r.activationBytes)) (persistent \(Format.bytes(r.persistentActivationBytes))"
            s += r.largestPhase.map { " + the largest phase, \($0); phases share memory)\n" } ?? ")\n"
            s += "  FLOPs \(r.flopsUnit): \(Format.count(r.flops))\n"
            s += Format.table(["largest tensors", "shape", "bytes", "row-read"],
                              r.largestTensors.map { [$0.name, "\($0.shape)", Format.bytes($0.bytes), $0.rowRead ? "yes" : ""] }, rightAligned: [2])
            if let f = r.fit {
                s += "\n\(f.fits ? "fits" : "does not fit") \(f.device): RAM \(Format.bytes(f.ramBytes)) of \(Format.bytes(f.ramAvailable)), "
                s += "flash \(Format.bytes(f.flashBytes)) of \(Format.bytes(f.flashAvailable))"
                s += f.streamedRowReadTables ? " (row-read tables streamed from flash)" : ""
            }
            return s
        }
    }
}
