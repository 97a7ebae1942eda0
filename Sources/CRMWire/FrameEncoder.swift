import CRMRPCContract
import NIOCore
import SwiftProtobuf

/// Writes frames: `u32 header length`, `u32 payload length` (big-endian),
/// the serialized FrameHeader, then the payload (docs/PROTOCOL.md, "Frames").
public enum FrameEncoder {
    public static let prefixLength = 8

    /// Appends one frame to `out`.
    public static func write(_ header: Crm_Rpc_V1_FrameHeader, payload: ByteBuffer?, into out: inout ByteBuffer) {
        let headerBytes: [UInt8] = (try? header.serializedBytes()) ?? []
        let payloadLength = payload?.readableBytes ?? 0
        out.reserveCapacity(minimumWritableBytes: prefixLength + headerBytes.count + payloadLength)
        out.writeInteger(UInt32(headerBytes.count))
        out.writeInteger(UInt32(payloadLength))
        out.writeBytes(headerBytes)
        if var payload { out.writeBuffer(&payload) }
    }

    /// Appends one frame whose payload is raw bytes.
    public static func write<Bytes: Collection>(_ header: Crm_Rpc_V1_FrameHeader, payloadBytes: Bytes, into out: inout ByteBuffer) where Bytes.Element == UInt8 {
        let headerBytes: [UInt8] = (try? header.serializedBytes()) ?? []
        out.reserveCapacity(minimumWritableBytes: prefixLength + headerBytes.count + payloadBytes.count)
        out.writeInteger(UInt32(headerBytes.count))
        out.writeInteger(UInt32(payloadBytes.count))
        out.writeBytes(headerBytes)
        out.writeBytes(payloadBytes)
    }

    /// A RESPONSE header for `callID`.
    public static func responseHeader(callID: UInt64, status: Crm_Rpc_V1_StatusCode, message: String = "") -> Crm_Rpc_V1_FrameHeader {
        var header = Crm_Rpc_V1_FrameHeader()
        header.callID = callID
        header.kind = .response
        header.status = status
        header.statusMessage = message
        return header
    }
}
