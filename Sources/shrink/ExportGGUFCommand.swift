import ArgumentParser
import Foundation
import ShrinkExport
import ShrinkFormats

struct ExportGGUFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gguf",
        abstract: "Write a model as GGUF v3 (ggml block formats): a Llama decoder as a file llama.cpp runs, a reasoner's tensors with its config.",
        discussion: """
            A Llama-architecture GGUF, or a directory `shrink quantize` made from one, becomes a whole-model GGUF with \
            llama.cpp's names, Q/K order, metadata and the source's tokenizer; tensors on a ggml grid (symmetric \
            group-32 f16 scales → Q4_0/Q5_0/Q8_0) are written exactly, the rest re-quantized by ggml's reference \
            quantizer (bit-exact with llama-quantize). K-quant rows that are not multiples of 256 fall back per tensor \
            as llama.cpp does (Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0, Q2_K/Q3_K → Q4_0).
            """)

    @Argument(help: "A .gguf file, a compressed directory from `shrink quantize`, or a reasoner's model directory.")
    var model: String

    @Option(name: [.short, .long], help: "Output .gguf file.")
    var output: String

    @Option(help: "Type of the weight matrices: q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, f16, f32, or auto (a decoder's own grid where it has one, else q8_0). Default: auto for a decoder, q8_0 for a reasoner.")
    var type: String?

    @Option(name: .customLong("type-for"), help: "REGEX=TYPE: the type of the tensors whose llama.cpp name matches REGEX (first match wins; repeatable), e.g. 'token_embd=q8_0'.")
    var typeFor: [String] = []

    @Option(help: "A llama.cpp importance matrix (llama-imatrix -o FILE.gguf): re-quantized tensors use ggml's importance-weighted quantizers, as llama-quantize --imatrix does.")
    var imatrix: String?

    @Option(help: "A compressed directory with low-rank factors (shrink quantize --low-rank): write them to this llama.cpp LoRA adapter (.gguf, for --lora) and keep each weight's Ŵ in the model, instead of re-quantizing Ŵ + A·B.")
    var loraAdapter: String?

    @Option(help: "Reasoners only: also write Shrink's dequantized tensors (and their FP32 sources as '<name>:source') to this .safetensors file, for tools/check_gguf.py.")
    var verifyDump: String?

    @OptionGroup var out: OutputOptions

    static func parseType(_ s: String, flag: String) throws -> GGMLType? {
        if s.lowercased() == "auto" { return nil }
        guard let t = GGMLType(exportFlag: s) else {
            throw ValidationError("\(flag) '\(s)' is unknown; use auto, " + GGMLType.exportable.map(\.name).joined(separator: ", "))
        }
        return t
    }

    func run() throws {
        if loraAdapter != nil && !LlamaGGUFExport.handles(model) {
            throw ValidationError("--lora-adapter applies to a decoder's compressed directory (shrink quantize --low-rank)")
        }
        if LlamaGGUFExport.handles(model) {
            guard verifyDump == nil else { throw ValidationError("--verify-dump applies to reasoners; check a decoder's export with tools/check_gguf_export.sh") }
            var rules: [(pattern: String, type: GGMLType)] = []
            for rule in typeFor {
                guard let eq = rule.lastIndex(of: "="), eq != rule.startIndex else {
                    throw ValidationError("--type-for '\(rule)' must be REGEX=TYPE, e.g. 'token_embd=q8_0'")
                }
                guard let t = try Self.parseType(String(rule[rule.index(after: eq)...]), flag: "--type-for") else {
                    throw ValidationError("--type-for '\(rule)': name a type, not auto")
                }
                rules.append((String(rule[..<eq]), t))
            }
            let importance = try imatrix.map { try GGUFImportance.load($0) } ?? [:]
            let options = LlamaGGUFExport.Options(type: try type.flatMap { try Self.parseType($0, flag: "--type") }, typeFor: rules,
                                                  importance: importance, loraAdapter: loraAdapter)
            let s = try LlamaGGUFExport.run(source: model, output: output, options: options, progress: out.progress)
            try out.emit(s) {
                var lines = ["wrote \(s.output): GGUF v3, llama, \(s.tensors.count) tensors, \(s.metadataKeys) metadata keys (tokenizer from \(s.metadataSource)), \(Format.bytes(s.bytes)), \(String(format: "%.3f", s.bitsPerWeight)) bits per weight"]
                lines.append("types: " + s.typeCounts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                             + "; \(s.exact) exact, \(s.requantized) re-quantized (\(s.tensors.filter(\.weighted).count) with the imatrix), \(s.fallbacks) fell back")
                lines.append(Format.table(["tensor", "shape", "from", "type", "placement", "rel. error"],
                                          s.tensors.map { [$0.name, $0.shape.map(String.init).joined(separator: "×"), $0.sourceFormat, $0.type,
                                                           $0.placement.rawValue, String(format: "%.2e", $0.relativeError)] },
                                          rightAligned: [5]))
                for e in s.tensors { if let n = e.note { lines.append("note: \(e.name): \(n)") } }
                if let a = s.loraAdapter { lines.append("wrote \(a.path): llama.cpp LoRA adapter, \(a.weights) weights' factors (F16), load it with --lora") }
                return lines.joined(separator: "\n")
            }
            return
        }
        guard typeFor.isEmpty, imatrix == nil else { throw ValidationError("--type-for and --imatrix apply to decoders (a GGUF or a compressed directory made from one)") }
        let t = try type.map { try Self.parseType($0, flag: "--type") } ?? .q8_0
        guard let t else { throw ValidationError("--type auto applies to decoders; name a type for a reasoner") }
        let s = try GGUFExport.run(model: model, output: output, type: t, verifyDump: verifyDump, progress: out.progress)
        try out.emit(s) {
            var lines = ["wrote \(s.output): GGUF v3, \(s.architecture), \(s.tensors.count) tensors, \(s.metadataKeys) metadata keys, \(Format.bytes(s.bytes))"]
            lines.append(Format.table(["tensor", "shape", "type", "bytes"],
                                      s.tensors.map { [$0.name, $0.shape.map(String.init).joined(separator: "×"), $0.type, String($0.bytes)] },
                                      rightAligned: [3]))
            for e in s.tensors { if let n = e.note { lines.append("note: \(e.name): \(n)") } }
            return lines.joined(separator: "\n")
        }
    }
}
