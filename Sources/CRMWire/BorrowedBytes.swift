import CRMRPCContract
import NIOCore
import SwiftProtobuf

/// Lets swift-protobuf decode straight from memory we already hold (a slice
/// of a NIO ByteBuffer) instead of copying it into an Array first.
///
/// Only valid inside the closure that lent the pointer.
public struct BorrowedBytes: SwiftProtobufContiguousBytes {
    private var owned: [UInt8] = []
    private let borrowed: UnsafeRawBufferPointer?

    public init(_ pointer: UnsafeRawBufferPointer) { borrowed = pointer }
    public init(repeating: UInt8, count: Int) {
        owned = Array(repeating: repeating, count: count)
        borrowed = nil
    }
    public init<S: Sequence>(_ sequence: S) where S.Element == UInt8 {
        owned = Array(sequence)
        borrowed = nil
    }

    public var count: Int { borrowed?.count ?? owned.count }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if let borrowed { return try body(borrowed) }
        return try owned.withUnsafeBytes(body)
    }

    public mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        if let borrowed { owned = Array(borrowed) }
        return try owned.withUnsafeMutableBytes(body)
    }
}

extension Message {
    /// Decodes a message from the readable bytes of `buffer` without copying them.
    public init(buffer: NIOCore.ByteBuffer) throws {
        self = try buffer.withUnsafeReadableBytes { try Self(serializedBytes: BorrowedBytes($0)) }
    }
}
