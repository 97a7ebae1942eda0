import CRMKernelCore
import Testing

@Suite struct PageTokensTests {
    let tokens = PageTokens(salt: 42)
    let items = Array(0..<25)

    @Test func pagesRoundTripToTheWholeList() throws {
        var seen: [Int] = []
        var token = ""
        var pages = 0
        repeat {
            let page = try tokens.page(items, list: "services", size: 10, token: token)
            seen += page.items
            token = page.next
            pages += 1
        } while !token.isEmpty && pages < 10
        #expect(seen == items)
        #expect(pages == 3)
    }

    @Test func sizeZeroIsTheDefaultAndSizeIsCapped() throws {
        let many = Array(0..<3000)
        #expect(try tokens.page(many, list: "l", size: 0, token: "").items.count == PageTokens.defaultPageSize)
        #expect(try tokens.page(many, list: "l", size: UInt32.max, token: "").items.count == PageTokens.maxPageSize)
    }

    @Test func lastPageHasNoNextToken() throws {
        let page = try tokens.page(items, list: "l", size: 25, token: "")
        #expect(page.items.count == 25 && page.next.isEmpty)
        #expect(try tokens.page([Int](), list: "l", size: 5, token: "").next.isEmpty)
    }

    @Test func tokenBelongsToItsList() throws {
        let next = try tokens.page(items, list: "services", size: 10, token: "").next
        #expect(throws: PageTokens.InvalidToken.self) { try tokens.page(items, list: "plugins", size: 10, token: next) }
    }

    @Test func tokenFromAnotherSaltIsRefused() throws {
        let next = try PageTokens(salt: 7).page(items, list: "l", size: 10, token: "").next
        #expect(throws: PageTokens.InvalidToken.self) { try tokens.page(items, list: "l", size: 10, token: next) }
    }

    @Test func tamperedOffsetIsRefused() throws {
        let next = try tokens.page(items, list: "l", size: 10, token: "").next
        let check = try #require(next.split(separator: "-").last)
        for forged in ["11-\(check)", "010-\(check)", "+10-\(check)", "10-\(check)x", "10-\(check)-1"] {
            #expect(throws: PageTokens.InvalidToken.self, "\(forged)") {
                try tokens.page(items, list: "l", size: 10, token: forged)
            }
        }
    }

    @Test(arguments: ["garbage", "-", "0-0", "10", "-10", "99999999999999999999999-abc", "10-", "😀-😀"])
    func garbageIsRefused(_ token: String) {
        #expect(throws: PageTokens.InvalidToken.self) { try tokens.page(items, list: "l", size: 10, token: token) }
    }

    @Test func offsetPastTheEndIsRefused() throws {
        let next = try tokens.page(items, list: "l", size: 10, token: "").next
        #expect(throws: PageTokens.InvalidToken.self) { try tokens.page(Array(0..<10), list: "l", size: 10, token: next) }
    }

    @Test func cursorTokensCarryTheirPositionForTheirListOnly() throws {
        let token = tokens.cursor(list: "audit|a", position: 1234)
        #expect(try tokens.position(of: token, list: "audit|a") == 1234)
        #expect(throws: PageTokens.InvalidToken.self) { try tokens.position(of: token, list: "audit|b") }
        #expect(throws: PageTokens.InvalidToken.self) { try PageTokens(salt: 7).position(of: token, list: "audit|a") }
        for bad in ["", "1234", "0-x", "-5-x", "01234-" + token.split(separator: "-")[1], token + "-1"] {
            #expect(throws: PageTokens.InvalidToken.self) { try tokens.position(of: bad, list: "audit|a") }
        }
    }
}
