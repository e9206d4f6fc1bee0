import Dispatch

public enum ParallelReduce {
    /// Maps contiguous chunks of `0..<count` to results in chunk order (deterministic
    /// regardless of scheduling), using `Parallel.forEachChunk`'s split.
    public static func map<R: Sendable>(count: Int, minChunk: Int = 1, _ body: @Sendable (Range<Int>) -> R) -> [R] {
        guard count > 0 else { return [] }
        let chunks = max(1, min(Parallel.workerCount, count / max(1, minChunk)))
        var results = [R?](repeating: nil, count: chunks)
        results.withUnsafeMutableBufferPointer { buf in
            let out = UnsafeSendable(buf)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = count * c / chunks, hi = count * (c + 1) / chunks
                out.pointer[c] = body(lo..<hi)
            }
        }
        return results.map { $0! }
    }
}
