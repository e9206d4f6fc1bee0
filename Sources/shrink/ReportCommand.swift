import ArgumentParser
import Foundation
import ShrinkReport

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Draw one self-contained HTML page (inline SVG and CSS, opens offline) from the JSON that eval, compare, sweep and plan write.",
        discussion: """
        Each file's kind is told by its top-level keys: sweep (trained_h_cycles, rows), compare --data (exact_difference, \
        fidelity), compare --text (kld_distribution), compare --sentences (embedding_cosine), plan (device, budget, models), \
        eval (per_step, accuracy), and points of another tool for the KLD-against-bits view: \
        {"kind": "points", "tool": NAME, "points": [{"label", "bits_per_weight", "mean_kld", "mean_kld_error"?}]}. \
        Several sweeps make a study page. The same files give the same bytes.
        """)

    @Argument(help: "JSON results (from --json or -o), in the order their sections appear.")
    var inputs: [String]

    @Option(name: [.short, .long], help: "HTML file to write.")
    var output: String

    @Option(help: "The page's title (default: from the inputs).")
    var title: String?

    func run() throws {
        try HTMLReport.write(paths: inputs, to: output, title: title)
        let size = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        print("wrote \(output) (\(size) bytes)")
    }
}
