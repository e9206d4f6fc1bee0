import ArgumentParser
import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkTensor

struct StudyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "study",
        abstract: "Write STUDY.md: the findings of several `shrink sweep` results (their JSON files), with verdicts from paired statistics.")

    @Argument(help: "Sweep JSON files (written by `shrink sweep -o NAME.md` as NAME.json), one per fixture.")
    var sweeps: [String]

    @Option(name: [.short, .long], help: "Markdown file to write.")
    var output: String

    @Option(help: "The command that regenerates the study, quoted in its header.")
    var command = "shrink study"

    @OptionGroup var out: OutputOptions

    func run() throws {
        guard !sweeps.isEmpty else { throw ValidationError("give at least one sweep JSON file") }
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        let inputs = try sweeps.map { path -> StudyReport.Input in
            guard let data = FileManager.default.contents(atPath: path) else {
                throw StudyInputError(path: path, detail: "cannot be read")
            }
            let report: Sweep.Report
            do { report = try d.decode(Sweep.Report.self, from: data) } catch {
                throw StudyInputError(path: path, detail: "\(error)")
            }
            let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            let table = String(path.dropLast(path.hasSuffix(".json") ? 5 : 0)) + ".md"
            return StudyReport.Input(name: name, report: report, tablePath: table)
        }
        let markdown = StudyReport.markdown(inputs, command: command)
        try AtomicFile.write(markdown, to: output)
        try out.emit(["output": output]) { "wrote \(output)" }
    }
}

struct StudyInputError: UserFacingError {
    var path: String
    var detail: String
    var description: String {
        "\(path): not a `shrink sweep` JSON report of this version (\(detail)); rerun `shrink sweep ... -o NAME.md` to regenerate it"
    }
}
