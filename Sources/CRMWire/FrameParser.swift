import CRMRPCContract
import NIOCore
import SwiftProtobuf

/// Cuts frames out of a byte stream, one at a time, enforcing the limits.
///
/// A frame whose payload is over `maxPayloadBytes` is not buffered: its header
/// is decoded (so the call can be answered RESOURCE_EXHAUSTED) and its payload
/// bytes are skipped as they arrive. A header over `maxHeaderBytes`, or one
/// that does not decode, is a protocol error: the stream cannot be trusted.
/// Not thread-safe; one parser per connection.
public struct FrameParser {
    public enum Event {
        /// A whole frame; `payload` is a slice of the input.
        case frame(Crm_Rpc_V1_FrameHeader, ByteBuffer)
        /// A frame whose payload was over the limit and is being skipped.
        case oversize(Crm_Rpc_V1_FrameHeader, payloadLength: Int)
    }

    public struct ProtocolError: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    public let maxHeaderBytes: Int
    public let maxPayloadBytes: Int
    private var bytesToSkip = 0

    /// The protocol's header limit (docs/PROTOCOL.md §5.2).
    public static let defaultMaxHeaderBytes = 64 * 1024

    public init(maxHeaderBytes: Int = defaultMaxHeaderBytes, maxPayloadBytes: Int) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxPayloadBytes = maxPayloadBytes
    }

    /// True while part of a frame has been read but not all of it.
    public func isMidFrame(_ buffer: ByteBuffer) -> Bool {
        bytesToSkip > 0 || buffer.readableBytes > 0
    }

    /// The next event from `buffer`, consuming its bytes; nil when more bytes are needed.
    public mutating func next(_ buffer: inout ByteBuffer) throws -> Event? {
        if bytesToSkip > 0 {
            let n = min(bytesToSkip, buffer.readableBytes)
            buffer.moveReaderIndex(forwardBy: n)
            bytesToSkip -= n
            if bytesToSkip > 0 { return nil }
        }
        guard let headerLength = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
              let payloadLength = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt32.self)
        else { return nil }
        guard headerLength <= maxHeaderBytes else {
            throw ProtocolError(description: "frame header of \(headerLength) bytes is over the \(maxHeaderBytes)-byte limit")
        }
        let oversize = Int(payloadLength) > maxPayloadBytes
        let needed = FrameEncoder.prefixLength + Int(headerLength) + (oversize ? 0 : Int(payloadLength))
        guard buffer.readableBytes >= needed else { return nil }

        buffer.moveReaderIndex(forwardBy: FrameEncoder.prefixLength)
        let headerSlice = buffer.readSlice(length: Int(headerLength))!
        let header: Crm_Rpc_V1_FrameHeader
        do {
            header = try headerSlice.withUnsafeReadableBytes { try HeaderCodec.decode($0) }
                ?? Crm_Rpc_V1_FrameHeader(buffer: headerSlice)
        } catch {
            throw ProtocolError(description: "frame header does not decode: \(error)")
        }
        if oversize {
            bytesToSkip = Int(payloadLength)
            let n = min(bytesToSkip, buffer.readableBytes)
            buffer.moveReaderIndex(forwardBy: n)
            bytesToSkip -= n
            return .oversize(header, payloadLength: Int(payloadLength))
        }
        return .frame(header, buffer.readSlice(length: Int(payloadLength))!)
    }
}
