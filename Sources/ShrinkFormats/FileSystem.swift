#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few file-system calls Shrink needs, in POSIX terms so they behave the
/// same on Linux and macOS.
public enum FileSystem {
    public static func exists(_ path: String) -> Bool {
        var d = false
        return exists(path, isDirectory: &d)
    }

    public static func exists(_ path: String, isDirectory: inout Bool) -> Bool {
        var st = stat()
        guard stat(path, &st) == 0 else { return false }
        isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
        return true
    }

    public static func isDirectory(_ path: String) -> Bool {
        var d = false
        return exists(path, isDirectory: &d) && d
    }

    public static func list(_ dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    public static func directoryOf(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let d = String(path[..<slash])
        return d.isEmpty ? "/" : d
    }

    public static func lastComponent(_ path: String) -> String {
        let trimmed = path.hasSuffix("/") ? String(path.dropLast()) : path
        guard let slash = trimmed.lastIndex(of: "/") else { return trimmed }
        return String(trimmed[trimmed.index(after: slash)...])
    }

    /// Staging entries (`.<name>.partial-<pid>`, and `<that>.old`) that writers of `finalPath` left behind when
    /// their process was killed: removed when that process no longer exists, so a rerun cleans up after a
    /// killed run. A live writer's staging (another `shrink` writing the same output) is left alone.
    public static func removeStaleStaging(of finalPath: String) {
        let dir = directoryOf(finalPath), prefix = "." + lastComponent(finalPath) + ".partial-"
        for entry in list(dir) where entry.hasPrefix(prefix) {
            let rest = entry.dropFirst(prefix.count)
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard let pid = Int32(digits), rest.dropFirst(digits.count).isEmpty || rest.dropFirst(digits.count) == ".old",
                  pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            let path = dir + "/" + entry
            if isDirectory(path) {
                for f in list(path) { unlink(path + "/" + f) }
                rmdir(path)
            } else {
                unlink(path)
            }
        }
    }

    public static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// mkdir -p: creates `dir` and missing parents; errors name `output`.
    public static func makeDirectories(_ dir: String, for output: String) throws {
        if isDirectory(dir) { return }
        var exists = false
        if FileSystem.exists(dir, isDirectory: &exists) {
            throw FormatError.outputNotWritable(path: output, reason: "'\(dir)' exists and is not a directory")
        }
        let parent = directoryOf(dir)
        if parent != dir { try makeDirectories(parent, for: output) }
        guard mkdir(dir, 0o755) == 0 || errno == EEXIST else {
            throw FormatError.outputNotWritable(path: output, reason: "cannot create '\(dir)': \(errorText(errno))")
        }
    }
}
