/// A small, explicit, seeded pseudo-random generator: xoshiro256** (Blackman &
/// Vigna, "Scrambled linear pseudorandom number generators", 2018), its state
/// filled by SplitMix64 as the authors recommend.
///
/// Every random choice in the puzzle generators goes through this type and its
/// own `below(_:)` and `shuffle(_:)`: the standard library's
/// `Int.random(in:using:)` and `shuffle(using:)` may change their algorithms
/// between Swift versions, and datasets must be byte-identical for the same
/// seed on every toolchain and platform.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s0, s1, s2, s3: UInt64

    public init(seed: UInt64) {
        var sm = SplitMix64(state: seed)
        s0 = sm.next(); s1 = sm.next(); s2 = sm.next(); s3 = sm.next()
    }

    /// A generator for one item of a stream: the same `(seed, stream, index)`
    /// always gives the same generator, whatever thread or order it is made in.
    public init(seed: UInt64, stream: UInt64, index: UInt64) {
        self.init(seed: SplitMix64.mix(SplitMix64.mix(seed &+ 0x9E37_79B9_7F4A_7C15) ^ SplitMix64.mix(stream &* 0xD1B5_4A32_D192_ED03)) ^ index)
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    /// Uniform in `0..<bound` (Lemire's multiply-and-reject, exact, no modulo bias).
    @inline(__always)
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0)
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Fisher–Yates, drawing with `below` (so independent of the standard library).
    public mutating func shuffle<C: MutableCollection & RandomAccessCollection>(_ c: inout C) where C.Index == Int {
        var i = c.count - 1
        while i > 0 {
            let j = below(i + 1)
            if i != j { c.swapAt(c.startIndex + i, c.startIndex + j) }
            i -= 1
        }
    }

    /// A uniformly random permutation of `0..<n`.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        shuffle(&p)
        return p
    }

    @inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}

/// SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number
/// generators", OOPSLA 2014): seeds xoshiro and mixes hash keys.
public struct SplitMix64: Sendable {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// The SplitMix64 output function: a strong 64-bit mixer (bijective).
    @inline(__always)
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// FNV-1a, 64-bit: a stable hash of bytes (Swift's `Hasher` is seeded per process).
public enum StableHash {
    public static func fnv1a<S: Sequence>(_ bytes: S, salt: UInt64 = 0) -> UInt64 where S.Element == UInt8 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325 ^ SplitMix64.mix(salt)
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return SplitMix64.mix(h)
    }
}
