import ShrinkFormats
import ShrinkTensor

/// Pruning inside `QuantizeJob`: each pruned tensor's pruner (a global magnitude threshold computed over
/// every tensor that asks for one), the sparse layouts declared before writing, prune-then-quantize, and the
/// `sparsity_config` of the output.
public enum Pruning {
    /// The pruner of every decision with pruning. Tensors with a global magnitude scope share one threshold
    /// per fraction, computed here (two passes over their weights).
    public static func pruners(_ decisions: [TensorDecision], weights: any TensorSource,
                               options: SparseGPT.Options) throws -> [String: any Pruner] {
        var out: [String: any Pruner] = [:]
        var global: [Double: [String]] = [:]
        for d in decisions {
            guard let c = d.prune else { continue }
            if c.scope == .global, case let .unstructured(f) = c.sparsity { global[f, default: []].append(d.info.name); continue }
            out[d.info.name] = c.method.pruner(options: options)
        }
        for (fraction, names) in global.sorted(by: { $0.key < $1.key }) {
            let shares = try GlobalMagnitude.threshold(names: names, fraction: fraction) { try weights.floats($0) }
            for n in names { out[n] = MagnitudePruner(global: shares[n]) }
        }
        return out
    }

    /// The stored layout of every weight pruned without quantization: `sparse-24-bitmask` when every such weight
    /// is 2:4 (compressed-tensors reads one sparsity format per checkpoint), else `sparse-bitmask`.
    public static func sparseLayouts(_ decisions: [TensorDecision], pruners: [String: any Pruner]) -> [String: SparseLayout] {
        let dense = decisions.filter { $0.scheme == nil && $0.prune != nil }
        let format: SparseFormat = dense.allSatisfy { SparseFormat.forStoring($0.prune!.sparsity) == .twoFour } ? .twoFour : .bitmask
        var out: [String: SparseLayout] = [:]
        for d in dense {
            guard let p = pruners[d.info.name], let c = d.prune else { continue }
            let rows = d.info.shape.dims[0], columns = d.info.shape.dims[1]
            out[d.info.name] = SparseLayout(format: format, rows: rows, columns: columns,
                                            dtype: [.f16, .bf16].contains(d.info.dtype) ? d.info.dtype : .f32,
                                            kept: p.keptCount(rows: rows, columns: columns, sparsity: c.sparsity))
        }
        return out
    }

    /// Prunes and quantizes one weight. With GPTQ, the quantization error is fed back onto the kept weights:
    /// SparseGPT's joint mode (§3.5) for `--prune sparsegpt`, or the given method's mask held fixed (the
    /// reference's `mask` argument). Otherwise the weight is pruned, then quantized by `compressor`: round to
    /// nearest maps 0 to the zero point's code exactly, so the mask survives as the zero codes.
    public static func pruneAndQuantize(_ w: UnsafeBufferPointer<Float>, info: TensorInfo, choice: PruneChoice, pruner: any Pruner,
                                        compressor: any WeightCompressor, method: Method, scheme: QuantScheme,
                                        statistics: LayerStatistics?, options: SparseGPT.Options) throws -> (quantized: QuantizedTensor, pruned: PrunedTensor) {
        let rows = info.shape.dims[0], columns = info.shape.dims[1]
        if method == .gptq {
            guard let statistics else { throw QuantizationError.notCalibrated(tensor: info.name, method: .gptq) }
            let target: SparseGPT.Target = choice.method == .sparsegpt ? .sparsity(choice.sparsity)
                : .kept(try pruner.prune(w, rows: rows, columns: columns, sparsity: choice.sparsity, statistics: statistics, name: info.name).kept)
            let r = try SparseGPT.run(w, rows: rows, columns: columns, statistics: statistics, target: target, scheme: scheme,
                                      options: options, name: info.name)
            guard let q = r.quantized else { preconditionFailure("SparseGPT with a scheme returns its quantized tensor") }
            return (q, r.pruned)
        }
        let p = try pruner.prune(w, rows: rows, columns: columns, sparsity: choice.sparsity, statistics: statistics, name: info.name)
        var q = try compressor.compress(p.values, rows: rows, columns: columns, scheme: scheme, statistics: statistics, name: info.name)
        let values = q.dequantized()
        var error = ErrorStatistics()
        values.withUnsafeBufferPointer { error.add(reference: w, output: $0) }
        q.error = error
        return (q, PrunedTensor(rows: rows, columns: columns, values: values, kept: p.kept))
    }

    /// The `sparsity_config` of a run's output, nil when nothing was pruned: format `dense` when the pruned
    /// weights were quantized (the mask is in the zero codes), else the sparse layouts' format; the structure
    /// when all agree; the sparsity of the whole model (weights pruned over all its parameters).
    public static func sparsityConfig(_ decisions: [TensorDecision], records: [Recipe.TensorRecord], sparseLayouts: [String: SparseLayout],
                                      parameters: Int) -> CompressedTensorsConfig.SparsityConfig? {
        let pruned = decisions.filter { $0.prune != nil }
        guard !pruned.isEmpty else { return nil }
        let structures = Set(pruned.map { $0.prune!.sparsity.structure })
        let zeros = records.reduce(0.0) { $0 + ($1.measuredSparsity ?? 0) * Double($1.shape.elementCount) }
        return .init(format: sparseLayouts.values.first?.format ?? .dense,
                     targets: pruned.map { CompressedTensorsConfig.moduleName(ofWeight: $0.info.name) },
                     globalSparsity: parameters > 0 ? zeros / Double(parameters) : 0,
                     structure: structures.count == 1 ? structures.first! : "unstructured")
    }
}
