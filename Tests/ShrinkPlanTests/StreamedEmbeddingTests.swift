import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkPlan
import ShrinkTestSupport
import Testing

/// Forwards to a checkpoint and records which tensors were decoded whole.
final class RecordingSource: TensorSource, @unchecked Sendable {
    let base: any TensorSource
    var decoded: [String] = []
    init(_ base: any TensorSource) { self.base = base }
    var location: String { base.location }
    var tensorNames: [String] { base.tensorNames }
    var metadata: [String: String] { base.metadata }
    func info(_ name: String) -> TensorInfo? { base.info(name) }
    func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer { try base.rawBytes(name) }
    func release(_ name: String) { base.release(name) }
    func floats(_ name: String) throws -> [Float] { decoded.append(name); return try base.floats(name) }
}

@Test func streamedPuzzleEmbeddingsReadOnlyTheRowsUsed() throws {
    let tmp = TemporaryDirectory()
    let identifiers = 200_000, width = 16
    let config = """
    {"arch": "trm", "seq_len": 16, "vocab_size": 6, "H_cycles": 1, "L_cycles": 1, "L_layers": 1, "hidden_size": 16,
     "expansion": 2, "num_heads": 2, "pos_encodings": "rope", "halt_max_steps": 1,
     "puzzle_emb_ndim": 16, "puzzle_emb_len": 1, "num_puzzle_identifiers": \(identifiers)}
    """
    try config.write(toFile: tmp.file("config.json"), atomically: true, encoding: .utf8)
    let c = try JSONDecoder().decode(ReasonerConfig.self, from: Data(config.utf8))
    try writeF32(ReasonerFamily(c).tensorLayout.map { t in (t.name, t.shape, (0..<t.parameters).map { Float($0 % 97) * 0.002 - 0.09 }) },
                 to: tmp.file("model.safetensors"))
    let tableBytes = identifiers * width * 4
    let inputs = (0..<32).map { Int32($0 % 6) }, ids: [Int32] = [7, Int32(identifiers - 1)]

    let source = RecordingSource(try Checkpoint.open(tmp.path))
    let streamed = try RecursiveReasoner(config: c, weights: source, location: tmp.path, streamPuzzleEmbedding: true)
    var streamedLogits: [Float] = []
    try streamed.run(inputs: inputs, puzzleIdentifiers: ids, batch: 2) { _, out in streamedLogits = out.logits }
    let rows = try #require(streamed.puzzleEmbedding as? StreamedRows)
    #expect(rows.rowsRead == 2)
    #expect(rows.bytesRead == 2 * width * 4)
    // The table was never decoded whole: only the two rows the batch uses were read.
    #expect(rows.bytesRead * 100_000 == tableBytes)
    #expect(!source.decoded.contains("inner.puzzle_emb.weights"))
    #expect(source.decoded.count == ReasonerFamily(c).tensorLayout.count - 1)

    let resident = try RecursiveReasoner.load(directory: tmp.path)
    var residentLogits: [Float] = []
    try resident.run(inputs: inputs, puzzleIdentifiers: ids, batch: 2) { _, out in residentLogits = out.logits }
    #expect(streamedLogits == residentLogits)
    #expect(streamed.parameterCount == resident.parameterCount)
}
