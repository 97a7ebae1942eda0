import Foundation

/// An exclusive flock on `<data-dir>/crmd.lock`, held for the life of the
/// process: two crmd processes never share one database. The kernel drops
/// the lock on exit, even on kill -9, so there is no stale lock to clean.
final class DataDirectoryLock {
    struct Held: Error, CustomStringConvertible {
        var description: String
    }

    private let fd: Int32

    init(directory: String) throws {
        let path = directory + "/crmd.lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw Held(description: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw Held(description: "another crmd is using the data directory \(directory)")
        }
    }

    deinit { close(fd) }
}
