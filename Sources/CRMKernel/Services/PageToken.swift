import CRMKernelCore
import CRMWire

/// Page tokens for the kernel's lists, salted afresh each run of crmd: a
/// token from before a restart is INVALID_ARGUMENT, like any other bad one.
enum PageToken {
    fileprivate static let tokens = PageTokens()

    /// The slice of `items` a request asks for, and the token for the next page.
    static func page<T>(_ items: [T], list: String, size: UInt32, token: String) throws -> ([T], String) {
        do {
            return try tokens.page(items, list: list, size: size, token: token)
        } catch {
            throw RPCError(.invalidArgument, "page_token is not valid")
        }
    }
}

extension PageToken {
    /// A keyset token: the last position shown of a list that grows while
    /// it is paged (the audit trail, newest first).
    static func cursor(list: String, position: Int64) -> String { tokens.cursor(list: list, position: position) }

    static func position(of token: String, list: String) throws -> Int64 {
        do {
            return try tokens.position(of: token, list: list)
        } catch {
            throw RPCError(.invalidArgument, "page_token is not valid for this list and these filters")
        }
    }
}
