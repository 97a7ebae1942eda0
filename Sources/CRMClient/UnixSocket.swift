import Foundation

/// A blocking Unix stream socket: just what the client needs.
final class UnixSocket: @unchecked Sendable {
    let fd: Int32

    init(connectingTo path: String) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClientError.connect(path, String(cString: strerror(errno))) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        guard path.utf8.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw ClientError.connect(path, "path is too long for a Unix socket")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw ClientError.connect(path, reason)
        }
        self.fd = fd
    }

    /// Writes every byte or throws.
    func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if n < 0 {
                if errno == EINTR { continue }
                throw ClientError.closed("write failed: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    /// Reads what is available (blocking); 0 at end of stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = recv(fd, buffer.baseAddress, buffer.count, 0)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw ClientError.closed("read failed: \(String(cString: strerror(errno)))")
        }
    }

    func shutdownBoth() { _ = Foundation.shutdown(fd, Int32(SHUT_RDWR)) }

    deinit { close(fd) }
}

public enum ClientError: Error, CustomStringConvertible {
    case connect(String, String)
    case refused(String)
    case closed(String)

    public var description: String {
        switch self {
        case .connect(let path, let reason): return "cannot connect to \(path): \(reason)"
        case .refused(let reason): return "server refused the connection: \(reason)"
        case .closed(let reason): return "connection closed: \(reason)"
        }
    }
}
