import ArgumentParser

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a model in a format a runtime runs (GGUF tensors, self-contained C).",
        subcommands: [ExportGGUFCommand.self, ExportCCommand.self])
}
