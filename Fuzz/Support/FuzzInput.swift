#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CFuzzSupport

/// Hands a libFuzzer input to parsers that read files: the bytes are written to a file under a per-process
/// folder (in /dev/shm when it exists, so no disk is touched), which the parser then opens by path, exactly as
/// the product does. The folder is reused for every input.
public enum FuzzInput {
    /// The per-process scratch folder.
    public static let directory: String = {
        let base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
        let dir = "\(base)/shrink-fuzz-\(getpid())"
        mkdir(dir, 0o700)
        return dir
    }()

    /// Writes `bytes` to `directory/name` (replacing it) and returns the path.
    @discardableResult
    public static func write(_ bytes: UnsafeRawBufferPointer, name: String) -> String {
        let path = directory + "/" + name
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        if fd < 0 { fatalError("fuzz harness: cannot create \(path)") }
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n <= 0 { fatalError("fuzz harness: cannot write \(path)") }
            done += n
        }
        close(fd)
        return path
    }

    /// Writes `bytes` to `directory/name` (see `write`) and runs `body` on its path.
    public static func withFile(_ bytes: UnsafeRawBufferPointer, name: String, _ body: (String) -> Void) {
        body(write(bytes, name: name))
    }

    /// Splits an input at the first occurrence of `separator`: (before, after); (all, empty) when absent.
    public static func split(_ bytes: UnsafeRawBufferPointer, separator: [UInt8]) -> (UnsafeRawBufferPointer, UnsafeRawBufferPointer) {
        let n = bytes.count, m = separator.count
        if m > 0, n >= m {
            var i = 0
            while i + m <= n {
                var match = true
                for j in 0..<m where bytes[i + j] != separator[j] { match = false; break }
                if match {
                    return (UnsafeRawBufferPointer(rebasing: bytes[0..<i]), UnsafeRawBufferPointer(rebasing: bytes[(i + m)...]))
                }
                i += 1
            }
        }
        return (bytes, UnsafeRawBufferPointer(start: nil, count: 0))
    }
}

/// Reads every byte of a buffer so that out-of-bounds views are caught by the address sanitizer.
@inline(never)
public func fuzzTouch(_ bytes: UnsafeRawBufferPointer) -> UInt8 {
    var x: UInt8 = 0
    for b in bytes { x ^= b }
    return x
}

/// Keeps a value alive and observable so the optimizer cannot drop the work that made it.
@inline(never)
public func fuzzSink<T>(_ value: T) { withExtendedLifetime(value) {} }

/// The fuzz target's `main`: libFuzzer's driver over the process's arguments, with `target` as the callback.
/// (Each target's main.swift calls it from top-level code: SwiftPM links an executable's top-level code as
/// `main`, so libFuzzer's own `main` is not used.)
public func fuzzMain(_ target: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, target))
}
