import CShrinkKernels
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A raw pointer that may cross into concurrent work. The one audited place where
/// Shrink opts out of Sendable checking: every user partitions the memory so no
/// two tasks write the same bytes.
public struct UnsafeSendable<Pointer>: @unchecked Sendable {
    public let pointer: Pointer
    public init(_ pointer: Pointer) { self.pointer = pointer }
}

public enum Parallel {
    /// Worker count: the cores this process may use, overridable by SHRINK_THREADS.
    public static let workerCount: Int = {
        if let s = getenv("SHRINK_THREADS"), let n = Int(String(cString: s)), n > 0 { return n }
        return max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }()

    /// Runs `body` over `0..<count` split into contiguous chunks, at most one per
    /// worker and no smaller than `minChunk` items (keep each ≥ ~50 µs of work).
    public static func forEachChunk(count: Int, minChunk: Int = 1, _ body: @Sendable (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = max(1, min(workerCount, count / max(1, minChunk)))
        if chunks == 1 { body(0..<count); return }
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = count * c / chunks, hi = count * (c + 1) / chunks
            if lo < hi { body(lo..<hi) }
        }
    }
}

public enum MemoryTuning {
    /// Keeps large freed blocks in the heap instead of returning them to the
    /// kernel, so the per-tensor output buffers of a long job are reused rather
    /// than page-faulted (and zeroed by the kernel) again for every tensor. Peak
    /// memory stays bounded by the largest tensor. Call once at start-up.
    public static func reuseLargeAllocations() {
        sk_reuse_large_allocations()
    }

    /// Returns the heap's free pages to the kernel. With large blocks kept in the heap (above), a phase whose
    /// buffers are gone (a block's f32 weights after its capture) would otherwise stay resident under the next
    /// phase's, which may not reuse them (GPTQ's factor is mapped apart): at 7B, 0.8 GB for the whole run.
    public static func returnFreedMemory() {
        sk_return_freed_memory()
    }
}
