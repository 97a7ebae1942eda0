import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import ServiceTestClient
import Testing

/// SearchArticles and SuggestArticles over FTS5: bm25 ranking with titles
/// first, what each reader may find, user input that is never FTS5
/// syntax, keyset pages, and suggestions for a ticket.
@Suite struct ServiceArticleSearchTests {
    @discardableResult
    static func live(_ world: ServiceWorld, _ title: String, _ body: String, _ state: SArticleState = .published,
                     category: Int64 = 0) async throws -> SArticle {
        let a = try await world.ana.createArticle(title, body, category: category)
        return state == .draft ? a : try await world.mia.publish(a.id, state)
    }

    @Test func aTitleHitRanksAboveBodyHitsAndMatchesAreMarked() async throws {
        let kb = try await KnowledgeWorld.start()
        let world = kb.world
        try await Self.live(world, "Paper jams", "Open the tray, pull the sheet out. The printer resumes; a printer that jams often needs a printer service.")
        try await Self.live(world, "Printer offline", "Check the cable and the network.")
        try await Self.live(world, "Invoices", "Download them as PDF.")
        let found = try await kb.pub.search("printer", marks: ("<b>", "</b>"))
        #expect(found.titles == ["Printer offline", "Paper jams"])
        #expect(found.hits[0].score > found.hits[1].score && found.hits[1].score > 0)
        #expect(found.hits[0].titleHighlight == "<b>Printer</b> offline")
        #expect(found.hits[1].snippet.contains("<b>printer</b>") && found.hits[1].titleHighlight == "Paper jams")
        #expect(found.hits.allSatisfy { $0.article.body.isEmpty })
        // No markers asked for: none given.
        #expect(try await kb.pub.search("PRINTER").hits.allSatisfy { $0.snippet.isEmpty && $0.titleHighlight.isEmpty })
        // Case and diacritics are ignored; a star is a prefix; quotes a phrase.
        try await Self.live(world, "Café Wi-Fi", "The résumé of the network setup.")
        #expect(try await kb.pub.search("cafe RESUME").titles == ["Café Wi-Fi"])
        #expect(try await kb.pub.search("print*").titles == ["Printer offline", "Paper jams"])
        #expect(try await kb.pub.search("\"printer resumes\"").titles == ["Paper jams"])
        #expect(try await kb.pub.search("\"resumes printer\"").hits.isEmpty)
        // Every word must match.
        #expect(try await kb.pub.search("printer cable").titles == ["Printer offline"])
    }

    @Test func eachReaderFindsOnlyTheStatesTheyMaySee() async throws {
        let kb = try await KnowledgeWorld.start()
        let world = kb.world
        let draft = try await Self.live(world, "VPN draft", "vpn notes", .draft)
        let inside = try await Self.live(world, "VPN internal", "vpn for staff", .internal)
        let open = try await Self.live(world, "VPN published", "vpn for everyone")
        let gone = try await Self.live(world, "VPN archived", "old vpn")
        _ = try await world.mia.archive(gone.id)
        let danDraft = try await kb.dan.createArticle("VPN by dan", "vpn dan")
        func ids(_ r: Crm_Service_V1_SearchArticlesResponse) -> Set<Int64> { Set(r.hits.map(\.article.id)) }
        // A public reader and read_only: published only, whatever states they ask for.
        for reader in [kb.pub, kb.rita] {
            #expect(ids(try await reader.search("vpn")) == [open.id])
            #expect(ids(try await reader.search("vpn", states: [.draft, .internal, .archived])).isEmpty)
        }
        // An agent: live articles, and the drafts their write scope reaches.
        #expect(ids(try await kb.dan.search("vpn")) == [inside.id, open.id, danDraft.id])
        #expect(ids(try await world.ben.search("vpn")) == [draft.id, inside.id, open.id])
        #expect(ids(try await world.ben.search("vpn", states: [.draft])) == [draft.id])
        #expect(ids(try await world.ben.search("vpn", states: [.archived])) == [gone.id])
        #expect(ids(try await kb.dan.search("vpn", states: [.archived])).isEmpty)
        // A manager: every author's.
        #expect(ids(try await world.mia.search("vpn")) == [draft.id, inside.id, open.id, danDraft.id])
        // An edit of a live article is found once published.
        _ = try await world.ana.updateArticle(open.id, body: "wireguard now")
        #expect(try await kb.pub.search("wireguard").hits.isEmpty)
        _ = try await world.mia.publish(open.id)
        #expect(ids(try await kb.pub.search("wireguard")) == [open.id])
        // A category narrows it.
        let net = try await world.mia.createCategory("Network")
        let inNet = try await Self.live(world, "VPN in Network", "vpn", category: net.id)
        #expect(ids(try await kb.pub.search("vpn", category: net.id)) == [inNet.id])
        // The portal's role has no article permission.
        await expectRPCError(.permissionDenied, mentioning: "lacks permission service.article.read") { try await world.pat.search("vpn") }
    }

    @Test func userInputIsNeverFts5Syntax() async throws {
        let kb = try await KnowledgeWorld.start()
        let world = kb.world
        try await Self.live(world, "Terms and conditions", "Read them near the end, or not.")
        for query in ["\"", "*", "\"\"", "-", "()", "{}:", "^", "  ", ""] {
            await expectRPCError(.invalidArgument, mentioning: "query has no word to search for") { try await kb.pub.search(query) }
        }
        // FTS5's operators and column filters are words or separators here.
        for query in ["AND", "OR", "NOT", "NEAR", "and OR", "terms AND", "\"terms and", "title:terms", "{body}: terms",
                      "NEAR(terms conditions)", "^terms", "terms*", "terms -conditions", "c1", "s3", "facets:s3",
                      "'terms'", "terms\u{0}", "ter\"ms"] {
            let found = try await kb.pub.search(query)
            #expect(found.hits.count <= 1, "\(query)")
        }
        #expect(try await kb.pub.search("AND").titles == ["Terms and conditions"])
        #expect(try await kb.pub.search("NOT near").titles == ["Terms and conditions"])
        // "title" is a word to find, not a column.
        #expect(try await kb.pub.search("title:terms").hits.isEmpty)
        // Filter tokens are never reachable from a query.
        for token in ["s3", "c0", "facets"] { #expect(try await kb.pub.search(token).hits.isEmpty) }
        await expectRPCError(.invalidArgument, mentioning: "query is longer than 500") {
            try await kb.pub.search(String(repeating: "a", count: 501))
        }
        await expectRPCError(.invalidArgument, mentioning: "at most 32") {
            try await kb.pub.search((1...33).map { "w\($0)" }.joined(separator: " "))
        }
        await expectRPCError(.invalidArgument, mentioning: "states[1] is repeated") { try await kb.pub.search("x", states: [.draft, .draft]) }
        await expectRPCError(.invalidArgument, mentioning: "states[0] is required") { try await kb.pub.search("x", states: [.unspecified]) }
        await expectRPCError(.invalidArgument, mentioning: "highlight_start is longer than 16") {
            try await kb.pub.search("x", marks: (String(repeating: "<", count: 17), ">"))
        }
        await expectRPCError(.notFound, mentioning: "category_id: category 42") { try await kb.pub.search("x", category: 42) }
        await expectRPCError(.invalidArgument, mentioning: "page_token is not a token") { try await kb.pub.search("x", token: "bad") }
    }

    @Test func searchPagesFollowTheRankingWithoutRepeats() async throws {
        let kb = try await KnowledgeWorld.start()
        let world = kb.world
        var made: Set<Int64> = []
        for i in 1...7 {
            // Different lengths: different scores; two equal ones to tie.
            let body = String(repeating: "filler ", count: i == 7 ? 3 : i) + "widget"
            made.insert(try await Self.live(world, "Note \(i)", body).id)
        }
        var hits: [Crm_Service_V1_ArticleHit] = []
        var token = ""
        var pages = 0
        repeat {
            let page = try await kb.pub.search("widget", pageSize: 3, token: token)
            #expect(page.hits.count <= 3)
            hits += page.hits
            token = page.nextPageToken
            pages += 1
        } while !token.isEmpty && pages < 10
        #expect(pages == 3 && hits.count == 7 && Set(hits.map(\.article.id)) == made)
        #expect(zip(hits, hits.dropFirst()).allSatisfy { $0.score > $1.score || ($0.score == $1.score && $0.article.id < $1.article.id) })
        let all = try await kb.pub.search("widget", pageSize: 50)
        #expect(all.hits.map(\.article.id) == hits.map(\.article.id) && all.nextPageToken.isEmpty)
    }

    @Test func aTicketGetsTheLiveArticlesItsWordsFind() async throws {
        let kb = try await KnowledgeWorld.start()
        let world = kb.world
        let vpn = try await Self.live(world, "VPN connection drops", "Renew the certificate when the VPN connection drops every hour.")
        let staff = try await Self.live(world, "VPN gateway restart", "Restart the gateway (staff only).", .internal)
        _ = try await Self.live(world, "VPN drops draft", "Unreviewed advice about connection drops.", .draft)
        _ = try await Self.live(world, "Invoices", "Download them as PDF.")
        let ada = try await world.person("Ada", "Lovelace")
        let ticket = try await world.admin.create("My VPN connection drops", requester: ada,
                                                  description: "Since Monday the connection drops every hour. Please help!",
                                                  assignee: "ana", team: "billing")
        let agent = try await world.ana.suggest(ticket.id)
        #expect(agent.hits.map(\.article.id) == [vpn.id, staff.id])
        #expect(try await world.mia.suggest(ticket.id, pageSize: 1).hits.map(\.article.id) == [vpn.id])
        let next = try await world.mia.suggest(ticket.id, pageSize: 1, token: world.mia.suggest(ticket.id, pageSize: 1).nextPageToken)
        #expect(next.hits.map(\.article.id) == [staff.id])
        // Out of the caller's ticket scope, or without service.ticket.read: NOT_FOUND.
        await expectRPCError(.notFound, mentioning: "ticket_id: ticket \(ticket.id) does not exist") { try await kb.dan.suggest(ticket.id) }
        await expectRPCError(.notFound, mentioning: "does not exist") { try await kb.pub.suggest(ticket.id) }
        await expectRPCError(.invalidArgument, mentioning: "ticket_id is required") { try await world.ana.suggest(0) }
        await expectRPCError(.notFound, mentioning: "ticket 999 does not exist") { try await world.ana.suggest(999) }
        // A ticket without a usable word gets nothing.
        let hi = try await world.admin.create("Hi", requester: ada, description: "Hello, thanks!", assignee: "ana", team: "billing")
        #expect(try await world.ana.suggest(hi.id).hits.isEmpty)
    }
}
