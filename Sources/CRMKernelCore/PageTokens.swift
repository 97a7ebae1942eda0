/// Opaque page tokens for lists that stay fixed while they are paged, so an
/// offset stays meaningful between pages. A token carries its offset and a
/// check over the list's name, the offset and a salt, so one the issuer
/// never made (or made for another list, or with another salt, such as a
/// previous run's) is refused.
public struct PageTokens: Sendable {
    public static let defaultPageSize = 100
    public static let maxPageSize = 1000

    /// The token was not issued for this list by this issuer.
    public struct InvalidToken: Error, Equatable {}

    private let salt: UInt64

    public init(salt: UInt64 = .random(in: 1...UInt64.max)) { self.salt = salt }

    /// The slice of `items` a request asks for (a `size` of 0 means the
    /// default), and the token for the next page, empty after the last.
    public func page<T>(_ items: [T], list: String, size: UInt32, token: String) throws -> (items: [T], next: String) {
        var start = 0
        if !token.isEmpty {
            let parts = token.split(separator: "-")
            guard parts.count == 2, let offset = Int(parts[0]), offset > 0, offset < items.count,
                  String(offset) == parts[0], parts[1] == check(list, offset) else {
                throw InvalidToken()
            }
            start = offset
        }
        let pageSize = size == 0 ? Self.defaultPageSize : min(Int(size), Self.maxPageSize)
        let end = min(items.count, start + pageSize)
        return (Array(items[start..<end]), end < items.count ? "\(end)-\(check(list, end))" : "")
    }

    /// A token for a list paged by position (keyset) rather than offset, for
    /// lists that grow while they are paged (the audit trail): it carries the
    /// last position shown, checked like an offset token. `list` should name
    /// the filters too, so a token cannot be reused with others.
    public func cursor(list: String, position: Int64) -> String {
        "\(position)-\(check(list, position))"
    }

    /// The position a `cursor` token carries; a token not issued for `list`
    /// by this issuer, or a position of 0 or less, is refused.
    public func position(of token: String, list: String) throws -> Int64 {
        let parts = token.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let position = Int64(parts[0]), position > 0, String(position) == parts[0],
              parts[1] == check(list, position) else {
            throw InvalidToken()
        }
        return position
    }

    /// FNV-1a over the list name, the offset and the salt.
    private func check(_ list: String, _ offset: some BinaryInteger) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in Array("\(list)|\(offset)|\(salt)".utf8) {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return String(hash, radix: 36)
    }
}
