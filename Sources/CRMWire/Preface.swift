import CRMRPCContract
import NIOCore

/// The 8-byte connection preface (see docs/PROTOCOL.md, "Connection preface").
///
/// The client sends `"CRMP"`, its protocol version (u16, big-endian) and two
/// zero bytes. The server answers with `"CRMP"`, its own version and a status
/// (u16): 0 means the connection is accepted; anything else is a status code
/// and the server closes the connection after sending it.
public enum Preface {
    public static let magic: [UInt8] = Array("CRMP".utf8)
    public static let version: UInt16 = 1
    public static let length = 8

    /// The bytes a client sends.
    public static func clientBytes(version: UInt16 = Preface.version) -> [UInt8] {
        magic + [UInt8(version >> 8), UInt8(version & 0xff), 0, 0]
    }

    /// The bytes a server answers with.
    public static func serverBytes(status: Crm_Rpc_V1_StatusCode) -> [UInt8] {
        let code = UInt16(status.rawValue)
        return magic + [UInt8(version >> 8), UInt8(version & 0xff), UInt8(code >> 8), UInt8(code & 0xff)]
    }

    /// Splits a received preface into its version and status/flags field;
    /// nil when the magic is wrong.
    public static func parse(_ bytes: [UInt8]) -> (version: UInt16, field: UInt16)? {
        guard bytes.count == length, Array(bytes[0..<4]) == magic else { return nil }
        return (UInt16(bytes[4]) << 8 | UInt16(bytes[5]), UInt16(bytes[6]) << 8 | UInt16(bytes[7]))
    }
}
