import CRMWire
import Foundation

/// The socket's file on disk: refuses to take over a live server's socket,
/// removes a stale one, and creates the new one with the configured mode.
enum SocketFile {
    struct InUse: Error, CustomStringConvertible {
        var description: String
    }

    /// Throws if another live server answers on `path`; removes a stale socket file.
    static func prepare(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw InUse(description: "\(path) exists and is not a socket; refusing to replace it")
        }
        if isLive(path) {
            throw InUse(description: "another server is already listening on \(path)")
        }
        unlink(path)
    }

    /// True if something accepts connections on the socket at `path`.
    static func isLive(_ path: String) -> Bool {
        (try? UnixSocket(connectingTo: path)) != nil
    }

    /// Runs `bind` with a umask that gives the new socket file `mode` from
    /// the start, so it is never reachable with looser permissions.
    static func withMode<T>(_ mode: mode_t, _ bind: () throws -> T) rethrows -> T {
        let previous = umask(~mode & 0o777)
        defer { umask(previous) }
        return try bind()
    }
}
