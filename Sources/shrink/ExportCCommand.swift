import ArgumentParser
import ShrinkExport
import ShrinkModels

struct ExportCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "c",
        abstract: "Write a self-contained C99 inference (const weights, static arena, shrink_run or shrink_vae_*) for microcontrollers.")

    @Argument(help: "Model directory (compressed: weights stay packed; FP32: float weights).")
    var model: String

    @Option(name: [.short, .long], help: "Output directory (model.h, model.c, model_internal.h, model_config.h, weights.c).")
    var output: String

    @Option(help: "Reasoners: supervision steps shrink_run runs (default: the config's halt_max_steps).")
    var steps: Int?

    @Flag(help: "Replace a non-empty output directory.")
    var force = false

    @OptionGroup var out: OutputOptions

    func run() throws {
        if let vae = try? ModelRegistry.family(config: model), vae is VAEFamily {
            if steps != nil { throw ValidationError("--steps: \(model) is a VAE, which has no supervision steps") }
            let s = try VAECExport.run(model: try ConvVAE.load(model), output: output, overwrite: force)
            return try out.emit(s) {
                ["wrote \(s.output): \(s.files.joined(separator: ", "))",
                 "  \(s.variant), latent \(s.latentDim); const data \(Format.bytes(s.constantBytes)), arena \(s.arena.totalBytes) bytes"
                     + (s.lowRankScratchBytes > 0 ? " + low-rank scratch \(s.lowRankScratchBytes) bytes" : ""),
                 Self.table(s.linears)].joined(separator: "\n")
            }
        }
        let s = try CExport.run(model: model, output: output, steps: steps, overwrite: force)
        try out.emit(s) {
            var lines = ["wrote \(s.output): \(s.files.joined(separator: ", "))"]
            lines.append("  \(s.architecture), \(s.steps) steps × \(s.hCycles) H × \(s.lCycles) L cycles; const data \(Format.bytes(s.constantBytes)), arena \(s.arena.totalBytes) bytes"
                         + (s.lowRankScratchBytes > 0 ? " + low-rank scratch \(s.lowRankScratchBytes) bytes" : ""))
            lines.append(Self.table(s.linears))
            return lines.joined(separator: "\n")
        }
    }

    static func table(_ linears: [CExport.LinearEntry]) -> String {
        Format.table(["linear", "shape", "bits", "groups/row", "rank", "bytes"],
                     linears.map { [$0.name, "\($0.rows)×\($0.columns)", $0.bits == 32 ? "f32" : String($0.bits), String($0.groupsPerRow),
                                    $0.rank == 0 ? "-" : String($0.rank), String($0.bytes)] },
                     rightAligned: [2, 3, 4, 5])
    }
}
