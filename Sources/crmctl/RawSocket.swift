import CRMWire
import Foundation

/// A blocking socket with the preface done, for the load generator's threads.
struct RawSocket {
    let fd: Int32

    init(path: String) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RPCError(.unavailable, "socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8.prefix(raw.count - 1))
            raw[min(path.utf8.count, raw.count - 1)] = 0
        }
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard ok == 0 else { Foundation.close(fd); throw RPCError(.unavailable, "cannot connect to \(path): \(String(cString: strerror(errno)))") }
        self.fd = fd
        try writeAll(Preface.clientBytes())
        var answer = [UInt8](repeating: 0, count: Preface.length)
        var got = 0
        while got < Preface.length {
            let n = answer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, Preface.length - got, 0) }
            guard n > 0 else { throw RPCError(.unavailable, "closed during the preface") }
            got += n
        }
        guard let (_, status) = Preface.parse(answer), status == 0 else { throw RPCError(.unavailable, "preface refused") }
    }

    func writeAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw RPCError(.unavailable, "write failed: \(String(cString: strerror(errno)))")
                }
                offset += n
            }
        }
    }

    func close() { Foundation.close(fd) }

    func read(_ buffer: inout [UInt8]) throws -> Int {
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n >= 0 { return n }
            if errno != EINTR { throw RPCError(.unavailable, "read failed: \(String(cString: strerror(errno)))") }
        }
    }
}
