import ArgumentParser
import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkModels
import ShrinkPlan

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Combine the partial results of `shrink sweep … --shard I/N` into the sweep the unsharded run writes.")

    @Argument(help: "Every shard's partial result (shrink sweep|plan … --shard I/N -o PART.json), in any order.")
    var parts: [String]

    @Option(name: [.short, .long], help: "Write the merged sweep as Markdown to this file (and JSON next to it), or the merged plan (JSON).")
    var output: String?

    @OptionGroup var out: OutputOptions

    func run() throws {
        struct Format_: Decodable { var format: String }
        let files = try parts.map { path -> Data in
            guard let data = FileManager.default.contents(atPath: path) else { throw FormatError.cannotOpen(file: path, reason: "no such file or not readable") }
            return data
        }
        func decode<T: Decodable>(_ type: T.Type, _ data: Data, _ path: String, snakeCase: Bool) throws -> T {
            let d = JSONDecoder()
            if snakeCase { d.keyDecodingStrategy = .convertFromSnakeCase }
            do { return try d.decode(type, from: data) } catch {
                throw MergeError.notAPart(file: path, detail: "\(error)".split(separator: "\n").first.map(String.init) ?? "undecodable")
            }
        }
        guard let first = files.first else { throw MergeError.noParts }
        if (try? JSONDecoder().decode(Format_.self, from: first))?.format == Planner.Part.formatName {
            return try mergePlan(try zip(files, parts).map { try decode(Planner.Part.self, $0, $1, snakeCase: false) })
        }
        let decoded = try zip(files, parts).map { try decode(Sweep.Part<RecursionDepth>.self, $0, $1, snakeCase: true) }
        let report = try Sweep.merge(decoded, names: parts)
        try SweepCommand.write(report, to: output)
        try out.emit(report) { Format.sweep(report) }
    }

    /// Replays the plan command on every shard's sensitivities: the plan the unsharded run writes.
    func mergePlan(_ plans: [Planner.Part]) throws {
        for (p, name) in zip(plans, parts) where p.format != Planner.Part.formatName {
            throw MergeError.notAPart(file: name, detail: "format '\(p.format)' among plan parts")
        }
        try ShardSet.check(plans.map { ($0.fingerprint, $0.shard) }, names: parts)
        let command = try PlanCommand.parse(plans[0].arguments + (output.map { ["-o", $0] } ?? []) + (out.json ? ["--json"] : []) + ["--quiet"])
        try command.run(measured: Planner.combine(plans.map(\.sensitivities)))
    }
}
