#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file. Pages are read on first touch, so
/// opening a checkpoint costs nothing until tensors are used; `release` hands the
/// pages of a finished tensor back, which keeps resident memory bounded by the
/// tensors in use rather than the file.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let byteCount: Int
    private let base: UnsafeMutableRawPointer?

    public enum OpenError: Error { case cannotOpen(errno: Int32), notARegularFile, cannotMap(errno: Int32) }

    public init(path: String) throws(OpenError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotOpen(errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .cannotOpen(errno: errno) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .notARegularFile }
        byteCount = Int(st.st_size)
        if byteCount == 0 {
            base = nil  // mmap refuses zero length; an empty file has no bytes to read
            return
        }
        let p = mmap(nil, byteCount, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw .cannotMap(errno: errno) }
        base = p
    }

    deinit {
        if let base { munmap(base, byteCount) }
    }

    /// The bytes in `range` (must lie inside the file). Valid while this object lives.
    public func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        precondition(range.lowerBound >= 0 && range.upperBound <= byteCount)
        guard let base else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)
    }

    /// Drops the pages of `range` from this process's memory; they are read again
    /// from the file if touched later.
    public func release(_ range: Range<Int>) {
        guard let base, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = range.lowerBound / page * page
        let hi = min(byteCount, (range.upperBound + page - 1) / page * page)
        _ = madvise(base + lo, hi - lo, MADV_DONTNEED)
    }

    /// Maps the pages of `range` in one system call (Linux ≥ 5.14
    /// MADV_POPULATE_READ), instead of one page fault per 64 KB while a kernel
    /// reads them; elsewhere asks for read-ahead.
    public func populate(_ range: Range<Int>) {
        guard let base, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = range.lowerBound / page * page
        #if os(Linux)
        let madvPopulateRead: Int32 = 22
        if madvise(base + lo, range.upperBound - lo, madvPopulateRead) == 0 { return }
        #endif
        _ = madvise(base + lo, range.upperBound - lo, MADV_WILLNEED)
    }
}

func systemErrorText(_ code: Int32) -> String { String(cString: strerror(code)) }

extension MappedFile {
    /// Maps a checkpoint file, with the reason in a `FormatError` naming it.
    static func checkpoint(_ path: String) throws -> MappedFile {
        do {
            return try MappedFile(path: path)
        } catch {
            switch error {
            case let .cannotOpen(e): throw FormatError.cannotOpen(file: path, reason: systemErrorText(e))
            case .notARegularFile: throw FormatError.notAFile(file: path)
            case let .cannotMap(e): throw FormatError.cannotOpen(file: path, reason: "mmap failed: \(systemErrorText(e))")
            }
        }
    }
}
