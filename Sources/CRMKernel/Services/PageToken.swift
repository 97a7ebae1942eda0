import CRMWire

/// Offset-based page tokens for the kernel's lists. The lists are fixed once
/// crmd has started, so an offset stays meaningful between pages.
enum PageToken {
    static let defaultPageSize = 100
    static let maxPageSize = 1000

    /// The slice of `items` a request asks for, and the token for the next page.
    static func page<T>(_ items: [T], size: UInt32, token: String) throws -> ([T], String) {
        var start = 0
        if !token.isEmpty {
            guard token.hasPrefix("o"), let offset = Int(token.dropFirst()), offset >= 0, offset <= items.count else {
                throw RPCError(.invalidArgument, "page_token is not valid")
            }
            start = offset
        }
        let pageSize = size == 0 ? defaultPageSize : min(Int(size), maxPageSize)
        let end = min(items.count, start + pageSize)
        return (Array(items[start..<end]), end < items.count ? "o\(end)" : "")
    }
}
