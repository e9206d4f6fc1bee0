import Foundation
import ShrinkTensor
import Testing

@Suite struct ElementCodecTests {
    @Test func everyFiniteHalfSurvivesARoundTripThroughFloat() {
        var bad = 0
        for bits in 0...UInt16.max {
            let exponent = (bits >> 10) & 0x1F
            if exponent == 0x1F && bits & 0x3FF != 0 { continue }  // NaN payloads
            var h = bits, f: Float = 0, back: UInt16 = 0
            ElementCodec.decode(&h, dtype: .f16, count: 1, into: &f)
            #expect(f == Float(Float16(bitPattern: bits)) || (f.isNaN && Float16(bitPattern: bits).isNaN))
            withUnsafeMutableBytes(of: &back) { raw in
                withUnsafePointer(to: f) { ElementCodec.encode(UnsafeBufferPointer(start: $0, count: 1), as: .f16, into: raw.baseAddress!) }
            }
            if back != bits { bad += 1 }
        }
        #expect(bad == 0)
    }

    @Test func floatToHalfRoundsToNearestEven() {
        // 1 + 2^-11 lies exactly between two halves: ties go to the even mantissa (1.0).
        #expect(ElementCodec.roundTrip(1 + 0x1p-11, through: .f16) == 1)
        #expect(ElementCodec.roundTrip(1 + 3 * 0x1p-11, through: .f16) == 1 + 0x1p-9)
        #expect(ElementCodec.roundTrip(70000, through: .f16) == .infinity)
        #expect(ElementCodec.roundTrip(0x1p-25, through: .f16) == 0)       // half of the smallest subnormal: ties to 0
        #expect(ElementCodec.roundTrip(0x1p-24, through: .f16) == 0x1p-24) // smallest subnormal
    }

    @Test func bfloat16KeepsTheTopSixteenBitsRoundedToNearestEven() {
        #expect(ElementCodec.roundTrip(1 + 0x1p-8, through: .bf16) == 1)            // tie → even
        #expect(ElementCodec.roundTrip(1 + 3 * 0x1p-8, through: .bf16) == 1 + 0x1p-6)
        #expect(ElementCodec.roundTrip(Float.nan, through: .bf16).isNaN)
        #expect(ElementCodec.roundTrip(-2.5, through: .bf16) == -2.5)
    }

    @Test func integerAndBoolTensorsDecodeByValue() {
        var i64: [Int64] = [-3, 0, 1 << 40]
        var out = [Float](repeating: 0, count: 3)
        ElementCodec.decode(&i64, dtype: .i64, count: 3, into: &out)
        #expect(out == [-3, 0, Float(1 << 40)])
        var b: [UInt8] = [0, 1, 2]
        ElementCodec.decode(&b, dtype: .bool, count: 3, into: &out)
        #expect(out == [0, 1, 1])
    }

    @Test func shapeCountRejectsNegativeAndOverflowingDims() {
        #expect(Shape([3, 4]).checkedElementCount == 12)
        #expect(Shape([]).checkedElementCount == 1)
        #expect(Shape([2, -1]).checkedElementCount == nil)
        #expect(Shape([1 << 40, 1 << 40]).checkedElementCount == nil)
    }
}

@Suite struct ErrorStatisticsTests {
    @Test func figuresMatchADoublePrecisionComputation() {
        let x: [Float] = (0..<1000).map { Float(sin(Double($0) * 0.37)) }
        let y: [Float] = x.enumerated().map { $1 + Float(cos(Double($0))) * 0.01 }
        var s = ErrorStatistics()
        s.add(reference: x, output: y)
        let sx = x.reduce(0.0) { $0 + Double($1) * Double($1) }
        let se = zip(x, y).reduce(0.0) { let e = Double($1.0 - $1.1); return $0 + e * e }
        let sy = y.reduce(0.0) { $0 + Double($1) * Double($1) }
        let dot = zip(x, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        #expect(abs(s.sqnrDB - 10 * log10(sx / se)) < 1e-3)
        #expect(abs(s.cosine - dot / (sx * sy).squareRoot()) < 1e-6)
        #expect(abs(s.relativeError - (se / sx).squareRoot()) < 1e-6)
        let maxErr = zip(x, y).map { Double(abs($0 - $1)) }.max()!
        #expect(abs(s.maxAbsError - maxErr) < 1e-7)
    }

    @Test func identicalTensorsHaveInfiniteSQNRAndCosineOne() {
        var s = ErrorStatistics()
        s.add(reference: [1, -2, 3], output: [1, -2, 3])
        #expect(s.sqnrDB == .infinity)
        #expect(s.cosine == 1)
        #expect(s.relativeError == 0)
    }
}
