import ArgumentParser
import Foundation
import ShrinkEval
import ShrinkModels
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

    @Option(help: "Markdown appended as a hand-written section (observations that the generated verdicts cannot state).")
    var notes: String?

    @OptionGroup var out: OutputOptions

    func run() throws {
        guard !sweeps.isEmpty else { throw ValidationError("give at least one sweep JSON file") }
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        let inputs = try sweeps.map { path -> StudyReport.Input in
            guard let data = FileManager.default.contents(atPath: path) else {
                throw StudyInputError.unreadable(path: path, flag: "sweep file")
            }
            let report: Sweep.Report<RecursionDepth>
            do { report = try d.decode(Sweep.Report<RecursionDepth>.self, from: data) } catch {
                throw StudyInputError.notASweep(path: path, detail: "\(error)")
            }
            let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            let table = String(path.dropLast(path.hasSuffix(".json") ? 5 : 0)) + ".md"
            return StudyReport.Input(name: name, report: report, tablePath: table)
        }
        var markdown = StudyReport.markdown(inputs, command: command)
        if let notes {
            guard let text = FileManager.default.contents(atPath: notes) else { throw StudyInputError.unreadable(path: notes, flag: "--notes") }
            markdown += "\n## Observations (hand-written from the tables above; `\(notes)`)\n\n" + String(decoding: text, as: UTF8.self)
        }
        try AtomicFile.write(markdown, to: output)
        try out.emit(["output": output]) { "wrote \(output)" }
    }
}

enum StudyInputError: UserFacingError {
    case unreadable(path: String, flag: String)
    case notASweep(path: String, detail: String)

    var description: String {
        switch self {
        case let .unreadable(path, flag): "\(path) (\(flag)): cannot be read; check the path"
        case let .notASweep(path, detail):
            "\(path): not a `shrink sweep` JSON report of this version (\(detail)); rerun `shrink sweep ... -o NAME.md` to regenerate it"
        }
    }
}
