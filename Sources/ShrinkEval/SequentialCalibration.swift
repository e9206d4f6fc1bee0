import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTensor

/// GPTQ's sequential mode as a `CalibrationSource`: when the job reaches a block's first tensor, the block runs
/// over the calibration states (the outputs of the blocks before it, as compressed) with its original weights to
/// capture its linear inputs; AWQ's folds inside the block are applied; when the job moves on, the block runs
/// again with its compressed weights to produce the next block's inputs. Statistics and weights of finished
/// blocks are freed, so memory is one block's weights and statistics plus the states.
public final class SequentialCalibration: CalibrationSource {
    let runner: any SequentialRunner
    let blocks: [[String]]
    let blockOf: [String: Int]
    let folds: [ScaleFold]
    let decisions: [TensorDecision]
    let awq: Set<String>?
    /// The original weights with AWQ's folds (block by block).
    let folded: OverlaySource
    /// `folded` with each finished tensor's compressed values: what the next block's inputs come from.
    let compressed: OverlaySource
    private var current: Int?
    private var layers: [String: LayerStatistics] = [:]
    private var methods: [String: String] = [:]
    private let progress: (any ProgressSink)?
    /// Seconds each block took to capture, fold and advance (what the 7B measurement reports per layer).
    public private(set) var blockSeconds: [Double] = []
    private var blockStart: ContinuousClock.Instant?
    /// The calibration data, as errors name it.
    let calibrationName: String

    public var weights: any TensorSource { folded }
    public var needsCompressedWeights: Bool { true }
    public func needsCompressedValues(_ name: String) -> Bool { blockOf[name] != nil }

    /// - Parameters:
    ///   - awq: the tensors AWQ applies to (nil: every quantized tensor; empty: none).
    public init(family: any SequentialFamily, weights: any TensorSource, location: String, units: [[Int32]],
                decisions: [TensorDecision], awq: Set<String>?, calibration: String = "the calibration data",
                progress: (any ProgressSink)? = nil) throws {
        calibrationName = calibration
        runner = try family.sequentialRunner(weights, location: location)
        try runner.begin(units)
        blocks = family.blocks
        var index: [String: Int] = [:]
        for (b, names) in blocks.enumerated() { for n in names { index[n] = b } }
        blockOf = index
        folds = family.scaleFolds
        self.decisions = decisions
        self.awq = awq
        folded = OverlaySource(base: family.presenting(weights))
        compressed = OverlaySource(base: folded)
        self.progress = progress
    }

    /// Tensors outside every block first (embeddings, the final norm, the head), then the blocks in order.
    public func order(_ names: [String]) -> [String] {
        let present = Set(names)
        return names.filter { blockOf[$0] == nil } + blocks.flatMap { $0.filter { present.contains($0) } }
    }

    public func prepare(_ name: String) throws {
        guard let b = blockOf[name], b != current else { return }
        try finishBlock()
        blockStart = .now
        current = b
        progress?.update(done: b, total: blocks.count, item: "block \(b): capture")
        let collector = LayerStatisticsCollector(unitName: "chunk", source: calibrationName)
        try runner.run(block: b, weights: compressed, observer: collector, advance: false)
        MemoryTuning.returnFreedMemory()  // the block's f32 weights, bound for the capture
        try collector.check()
        layers = collector.layers
        let inBlock = Set(blocks[b])
        let blockDecisions = decisions.filter { inBlock.contains($0.info.name) }
        if awq?.isEmpty != true {
            let blockFolds = folds.filter { f in f.consumers.allSatisfy(inBlock.contains) }
            methods.merge(try AWQ.apply(to: folded, decisions: blockDecisions, folds: blockFolds, statistics: layers, only: awq),
                          uniquingKeysWith: { _, b in b })
        }
    }

    /// The statistics of `name`'s input; handed to the last tensor of the block that reads them, they free themselves
    /// once GPTQ has filled its factor from them.
    public func statistics(_ name: String) -> LayerStatistics? {
        guard let b = blockOf[name], b == current, let s = layers[name] else { return nil }
        if let i = blocks[b].firstIndex(of: name), !blocks[b][(i + 1)...].contains(where: { layers[$0] === s }) { s.releasesAfterFill = true }
        return s
    }
    public func method(_ name: String) -> String? { methods[name] }

    public func finished(_ name: String, compressed form: CompressedForm?) throws {
        // Quantized ones are held packed (≈ bits/32 of the f32 values) and dequantized when the next block's inputs
        // are computed.
        switch (form, blockOf[name] != nil) {
        case let (.quantized(q)?, true): try compressed.replace(name, with: q)
        case let (.values(v)?, true): try compressed.replace(name, with: v)
        default: break
        }
        layers[name] = nil
        MemoryTuning.returnFreedMemory()  // the solve's f32 copies of the weight
        if let b = current, name == blocks[b].last { try finishBlock() }
    }

    /// Runs the current block with its compressed weights (the next block's inputs) and frees what it held.
    private func finishBlock() throws {
        guard let b = current else { return }
        progress?.update(done: b, total: blocks.count, item: "block \(b): advance")
        if b + 1 < blocks.count { try runner.run(block: b, weights: compressed, observer: nil, advance: true) }
        for n in blocks[b] { compressed.restore(n); folded.restore(n) }
        layers = [:]
        MemoryTuning.returnFreedMemory()
        current = nil
        if let start = blockStart { blockSeconds.append(Self.seconds(ContinuousClock.now - start)) }
        blockStart = nil
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}
