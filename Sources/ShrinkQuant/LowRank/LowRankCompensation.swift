import ShrinkFormats
import ShrinkTensor

/// `shrink quantize --low-rank R`: each quantized weight W is stored as its quantization Ŵ plus rank-R factors of the
/// residual, W ≈ Ŵ + A·B (`LowRank`), the factors as two extra tensors beside the packed weight:
///
/// - `<p>.weight_lora_a`: [rows, R], `<p>.weight_lora_b`: [R, columns] (a convolution kernel's columns are
///   in·kh·kw), both F16 (or `dtype`);
/// - Shrink's readers (`CompressedCheckpoint`) return Ŵ + A·B for `<p>.weight`, so every Shrink runtime, sweep and
///   comparison applies them; the names follow PEFT's lora_A/lora_B roles (x·Wᵀ + (x·Bᵀ)·Aᵀ), which is how
///   `shrink export onnx` and `shrink export c` apply them beside the quantized product.
public enum LowRankCompensation {
    public enum Method: String, Codable, Sendable, CaseIterable {
        /// The plain truncated SVD of the residual (LQER's baseline).
        case svd
        /// The SVD in the eigenspace of the layer's inputs (EoRA): needs calibration.
        case eora
    }

    /// A rank, the method that finds the factors and their storage dtype; in a recipe
    /// `{"rank": R, "method": "svd" | "eora"}`, plus `"dtype"` when it is not F16.
    public struct Option: Codable, Sendable, Hashable {
        public var rank: Int
        public var method: Method
        public var dtype: DType = .f16
        public init(rank: Int, method: Method, dtype: DType = .f16) { self.rank = rank; self.method = method; self.dtype = dtype }
        public var needsCalibration: Bool { method == .eora }
        public var description: String { "rank \(rank) \(method.rawValue) \(dtype.flagName)" }

        enum CodingKeys: String, CodingKey { case rank, method, dtype }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            rank = try c.decode(Int.self, forKey: .rank)
            guard rank >= 1 else { throw DecodingError.dataCorruptedError(forKey: .rank, in: c, debugDescription: "rank \(rank) must be at least 1") }
            let name = try c.decode(String.self, forKey: .method)
            guard let m = Method(rawValue: name) else {
                throw DecodingError.dataCorruptedError(forKey: .method, in: c, debugDescription: "low-rank method '\(name)' is unknown; use svd or eora")
            }
            method = m
            let d = try c.decodeIfPresent(String.self, forKey: .dtype) ?? "f16"
            guard let t = DType(flag: d), [.f16, .bf16, .f32].contains(t) else {
                throw DecodingError.dataCorruptedError(forKey: .dtype, in: c, debugDescription: "factor dtype '\(d)' is not f16, bf16 or f32")
            }
            dtype = t
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(rank, forKey: .rank)
            try c.encode(method.rawValue, forKey: .method)
            if dtype != .f16 { try c.encode(dtype.flagName, forKey: .dtype) }
        }

        /// Bytes of the two factors of a [rows, columns] weight, as `write` stores them.
        public func storedBytes(rows: Int, columns: Int) -> Int {
            let r = LowRankCompensation.rank(self, rows: rows, columns: columns)
            return (rows * r + r * columns) * dtype.byteSize
        }
    }

    public static let suffixA = "_lora_a", suffixB = "_lora_b"

    /// The rank a [rows, columns] weight gets: the option's, at most min(rows, columns).
    public static func rank(_ option: Option, rows: Int, columns: Int) -> Int { min(option.rank, rows, columns) }

    /// The two tensors stored for weight `name`.
    public static func storedTensors(for name: String, rows: Int, columns: Int, option: Option) -> [TensorInfo] {
        let r = rank(option, rows: rows, columns: columns)
        return [TensorInfo(name: name + suffixA, dtype: option.dtype, shape: Shape([rows, r])),
                TensorInfo(name: name + suffixB, dtype: option.dtype, shape: Shape([r, columns]))]
    }

    /// The factors of W − Ŵ, rounded through the storage dtype (so what is measured is what is stored).
    /// - Throws: `QuantizationError.notCalibrated` for EoRA without statistics.
    public static func factors(weights w: UnsafeBufferPointer<Float>, quantized: [Float], rows: Int, columns: Int, option: Option,
                               statistics: LayerStatistics?, name: String) throws -> LowRank.Factors {
        let residual = (0..<(rows * columns)).map { w[$0] - quantized[$0] }
        let r = rank(option, rows: rows, columns: columns)
        switch option.method {
        case .svd:
            return try LowRank.plain(residual, rows: rows, columns: columns, rank: r, name: name).rounded(option.dtype)
        case .eora:
            guard let statistics else { throw QuantizationError.lowRankNotCalibrated(tensor: name) }
            return try LowRank.whitened(residual, rows: rows, columns: columns, rank: r, hessian: statistics.hessian, name: name).rounded(option.dtype)
        }
    }

    public static func write(_ f: LowRank.Factors, name: String, dtype: DType, to writer: SafetensorsWriter) throws {
        for (suffix, values) in [(suffixA, f.a), (suffixB, f.b)] {
            try writer.write(name + suffix, values: ElementCodec.encoded(values, as: dtype))
        }
    }

    /// Checks that weight `name`'s factors are both stored and factor its [rows, columns]; returns their infos.
    @discardableResult
    public static func check(_ name: String, rows: Int, columns: Int, in stored: any TensorSource) throws -> (a: TensorInfo, b: TensorInfo) {
        let (a, b) = (try stored.requireInfo(name + suffixA), try stored.requireInfo(name + suffixB))
        guard a.shape.rank == 2, b.shape.rank == 2, a.shape.dims[0] == rows, b.shape.dims[1] == columns, a.shape.dims[1] == b.shape.dims[0],
              a.shape.dims[1] >= 1 else {
            throw QuantizationError.malformedPacked(tensor: name + suffixA, detail: "low-rank factors \(a.shape) and \(b.shape) do not factor [\(rows), \(columns)]")
        }
        return (a, b)
    }

    /// Reads weight `name`'s factors (shapes checked, values finite).
    public static func read(_ name: String, rows: Int, columns: Int, from stored: any TensorSource) throws -> LowRank.Factors {
        let (a, b) = try check(name, rows: rows, columns: columns, in: stored)
        let f = LowRank.Factors(rank: a.shape.dims[1], rows: rows, columns: columns, a: try stored.floats(a.name), b: try stored.floats(b.name))
        if let bad = (f.a + f.b).firstIndex(where: { !$0.isFinite }) {
            throw QuantizationError.malformedPacked(tensor: name + (bad < f.a.count ? suffixA : suffixB), detail: "holds NaN or infinity")
        }
        return f
    }

    /// The compensated weight Ŵ + A·B of `q`, the quantization of `w`, and its factors (`factors`): what every
    /// writer, round trip and sensitivity measurement uses.
    public static func compensate(_ w: UnsafeBufferPointer<Float>, quantized q: QuantizedTensor, option: Option, statistics: LayerStatistics?,
                                  name: String) throws -> (values: [Float], factors: LowRank.Factors) {
        var values = q.dequantized()
        let f = try factors(weights: w, quantized: values, rows: q.rows, columns: q.columns, option: option, statistics: statistics, name: name)
        add(f, to: &values)
        return (values, f)
    }

    /// Ŵ + A·B in place.
    public static func add(_ f: LowRank.Factors, to values: inout [Float]) {
        let ab = f.product()
        for i in values.indices { values[i] += ab[i] }
    }
}
