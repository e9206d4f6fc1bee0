import Foundation
import ShrinkQuant
import ShrinkTensor

/// Sub-byte packing as both ONNX (onnx.proto `TensorProto.raw_data`: "the first
/// element is stored in the 4 LSB") and onnxruntime's MatMulNBits ("the first 4 bits
/// are stored in the lower 4 bits of a byte") specify it: values of `bits` ∈ {2, 4, 8}
/// fill each byte from the least significant bits up; a short last byte is zero-padded.
public enum LSBFirstPacking {
    public static func pack(_ values: [UInt8], bits: Int) -> [UInt8] {
        precondition([2, 4, 8].contains(bits))
        let perByte = 8 / bits, mask = UInt8((1 << bits) - 1)
        var out = [UInt8](repeating: 0, count: (values.count + perByte - 1) / perByte)
        for (i, v) in values.enumerated() {
            out[i / perByte] |= (v & mask) << UInt8((i % perByte) * bits)
        }
        return out
    }

    public static func unpack(_ bytes: [UInt8], count: Int, bits: Int) -> [UInt8] {
        precondition([2, 4, 8].contains(bits) && bytes.count * (8 / bits) >= count)
        let perByte = 8 / bits, mask = UInt8((1 << bits) - 1)
        return (0..<count).map { i in (bytes[i / perByte] >> UInt8((i % perByte) * bits)) & mask }
    }

    /// ONNX INT4: two's-complement nibbles, first element in the low nibble.
    public static func packInt4(_ values: [Int8]) -> [UInt8] {
        pack(values.map { UInt8(bitPattern: $0) & 0xF }, bits: 4)
    }

    public static func unpackInt4(_ bytes: [UInt8], count: Int) -> [Int8] {
        unpack(bytes, count: count, bits: 4).map { Int8(bitPattern: $0 << 4) >> 4 }
    }
}

/// A pack-quantized weight unpacked to one signed code per element, with Shrink's
/// meaning x̂ = (q − z)·s (codes in [−2^(b−1), 2^(b−1)−1], z = 0 when symmetric).
struct UnpackedWeight {
    var name: String
    var scheme: QuantScheme
    var rows: Int, columns: Int
    /// [rows, columns] row-major.
    var codes: [Int8]
    /// [rows, groupsPerRow] (one value for per-tensor).
    var scales: [Float]
    /// Same layout as `scales`; empty when symmetric.
    var zeroPoints: [Int8]

    init(name: String, _ q: QuantizedTensor) {
        self.name = name
        scheme = q.scheme
        rows = q.rows; columns = q.columns
        let (R, C, words, bits) = (q.rows, q.columns, q.layout.wordsPerRow, q.scheme.bits)
        var all = [Int8]()
        all.reserveCapacity(R * C)
        q.packed.withUnsafeBufferPointer { p in
            for r in 0..<R {
                all += BitPacking.unpack(UnsafeBufferPointer(rebasing: p[(r * words)..<((r + 1) * words)]), count: C, bits: bits)
            }
        }
        codes = all
        scales = q.scales
        zeroPoints = q.zeroPoints
    }

    var groupsPerRow: Int { scheme.granularity == .tensor ? 1 : scheme.groupsPerRow(columns: columns) }
    var groupLength: Int { scheme.granularity.groupLength(columns: columns) }
}

/// The ONNX encodings of one quantized weight.
enum ONNXWeightEncoding {
    /// DequantizeLinear (opset 21) inputs for the weight as [rows, columns] or, when
    /// `transposed`, as [columns, rows] (the MatMul right operand xWᵀ needs):
    /// per-tensor → scalar scale; per-channel → per-axis along the output-channel
    /// axis; per-group → blocked along the input axis with `block_size` = group.
    /// Codes of ≤ 4 bits are INT4 (packed, low nibble first), others INT8; zero
    /// points have the codes' type, so DequantizeLinear's (x − zero_point)·scale is
    /// Shrink's (q − z)·s term by term.
    struct QDQ {
        var codeType: ONNXElementType
        var dims: [Int]
        var codes: [UInt8]
        var scaleDims: [Int]
        var scales: [Float]
        var zeroPoints: [UInt8]?
        var axis: Int?
        var blockSize: Int?
    }

    static func qdq(_ w: UnpackedWeight, transposed: Bool) -> QDQ {
        let R = w.rows, C = w.columns, G = w.groupsPerRow
        let int4 = w.scheme.bits <= 4
        func encode(_ v: [Int8]) -> [UInt8] { int4 ? LSBFirstPacking.packInt4(v) : v.map { UInt8(bitPattern: $0) } }
        // Moves [R, n] per-row data to [n, R] when transposed.
        func arrange(_ v: [Int8], perRow n: Int) -> [Int8] {
            guard transposed else { return v }
            var out = v
            for r in 0..<R { for j in 0..<n { out[j * R + r] = v[r * n + j] } }
            return out
        }
        var scales = w.scales
        if transposed && w.scheme.granularity != .tensor {
            scales = scales.indices.map { i in w.scales[(i % R) * G + i / R] }
        }
        let scaleDims: [Int], axis: Int?, block: Int?
        switch w.scheme.granularity {
        case .tensor: (scaleDims, axis, block) = ([], nil, nil)
        case .channel: (scaleDims, axis, block) = ([R], transposed ? 1 : 0, nil)
        case let .group(g): (scaleDims, axis, block) = (transposed ? [G, R] : [R, G], transposed ? 0 : 1, g)
        }
        let zeros: [UInt8]? = w.scheme.symmetric ? nil
            : encode(w.scheme.granularity == .tensor ? w.zeroPoints : arrange(w.zeroPoints, perRow: G))
        return QDQ(codeType: int4 ? .int4 : .int8, dims: transposed ? [C, R] : [R, C], codes: encode(arrange(w.codes, perRow: C)),
                   scaleDims: scaleDims, scales: scales, zeroPoints: zeros, axis: axis, blockSize: block)
    }

    /// com.microsoft MatMulNBits inputs for y = x·Wᵀ with W = [N = rows, K = columns]:
    /// B uint8 [N, k_blocks, blob_size], scales [N, k_blocks], zero_points packed
    /// uint8 [N, ceil(k_blocks·bits/8)] (omitted when symmetric: the op's default
    /// 2^(bits−1) is exactly the offset that makes the stored unsigned code u = q + 2^(b−1)
    /// dequantize to q·s). Per-group uses block_size = group; per-channel and
    /// per-tensor use one block of the next power of two ≥ max(K, 16), its tail
    /// padded with the zero point so padded weights dequantize to 0.
    struct NBits {
        var bits: Int, blockSize: Int, kBlocks: Int, N: Int, K: Int
        var b: [UInt8]
        var scales: [Float]
        var zeroPoints: [UInt8]?
    }

    static let nbitsSupportedBits: Set<Int> = [4, 8]

    /// nil with a reason when MatMulNBits cannot express the weight exactly.
    static func nbits(_ w: UnpackedWeight) -> Result<NBits, ExportError> {
        let bits = w.scheme.bits
        guard nbitsSupportedBits.contains(bits) else {
            return .failure(.styleCannotExpress(tensor: w.name, reason: "is \(bits)-bit; MatMulNBits here takes 4- or 8-bit weights"))
        }
        let N = w.rows, K = w.columns, G = w.groupsPerRow
        let blockSize: Int, kBlocks: Int
        if case let .group(g) = w.scheme.granularity {
            guard g >= 16, g & (g - 1) == 0 else {
                return .failure(.styleCannotExpress(tensor: w.name, reason: "uses group size \(g); MatMulNBits needs a power of two ≥ 16"))
            }
            (blockSize, kBlocks) = (g, K / g)
        } else {
            var p = 16
            while p < K { p *= 2 }
            (blockSize, kBlocks) = (p, 1)
        }
        let offset = 1 << (bits - 1)
        func zeroU(_ n: Int, _ kb: Int) -> UInt8 {
            guard !w.scheme.symmetric else { return UInt8(offset) }
            let z = w.scheme.granularity == .tensor ? w.zeroPoints[0] : w.zeroPoints[n * G + kb]
            return UInt8(Int(z) + offset)
        }
        var codes = [UInt8](repeating: 0, count: N * kBlocks * blockSize)
        var scales = [Float](repeating: 0, count: N * kBlocks)
        for n in 0..<N {
            for kb in 0..<kBlocks {
                scales[n * kBlocks + kb] = w.scheme.granularity == .tensor ? w.scales[0] : w.scales[n * G + kb]
                let pad = zeroU(n, kb)
                for j in 0..<blockSize {
                    let k = kb * blockSize + j
                    codes[(n * kBlocks + kb) * blockSize + j] = k < K ? UInt8(Int(w.codes[n * K + k]) + offset) : pad
                }
            }
        }
        var zeros: [UInt8]?
        if !w.scheme.symmetric {
            let perRow = (kBlocks * bits + 7) / 8
            zeros = []
            for n in 0..<N {
                var row = LSBFirstPacking.pack((0..<kBlocks).map { zeroU(n, $0) }, bits: bits)
                row += [UInt8](repeating: 0, count: perRow - row.count)
                zeros! += row
            }
        }
        return .success(NBits(bits: bits, blockSize: blockSize, kBlocks: kBlocks, N: N, K: K,
                              b: LSBFirstPacking.pack(codes, bits: bits), scales: scales, zeroPoints: zeros))
    }
}
