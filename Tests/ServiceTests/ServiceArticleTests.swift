import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import ServiceTestClient
import Testing

/// Knowledge-base articles: revisions on every save, a live revision per
/// publish, states per reader, archive, events, idempotent retries,
/// optimistic concurrency and every bad input the .proto names.
@Suite struct ServiceArticleTests {
    actor Received {
        var topics: [String] = []
        var events: [Crm_Service_V1_ArticleEvent] = []
        func add(_ topic: String, _ e: Crm_Service_V1_ArticleEvent) { topics.append(topic); events.append(e) }
    }

    @Test func everySaveIsARevisionAndReadersSeeTheLiveOne() async throws {
        let kb = try await KnowledgeWorld.start()
        let world = kb.world
        let received = Received()
        let stream = try world.crmd.connect()
        let listener = Task {
            let request = Crm_Kernel_V1_SubscribeRequest.with { $0.topicPatterns = ["service.article.*"] }
            for try await e in try stream.stream("/crm.kernel.v1.Events/Subscribe", request, as: Crm_Kernel_V1_Event.self) {
                await received.add(e.topic, try Crm_Service_V1_ArticleEvent(serializedBytes: e.payload))
            }
        }
        defer { listener.cancel(); _ = stream }
        let billing = try await world.mia.createCategory("Billing", description: "Invoices and payments")
        let a = try await world.ana.createArticle("Refunds", "Ask for a refund within 30 days.", category: billing.id)
        #expect(a.state == .draft && a.revision == 1 && a.latestRevision == 1 && a.liveRevision == 0)
        #expect(a.author == "ana" && a.updatedBy == "ana" && a.version == 1 && a.categoryID == billing.id)
        // A draft is its writers' only: not a reader's, not an agent's whose write scope misses ana.
        for reader in [kb.rita, kb.pub, kb.dan] {
            await expectRPCError(.notFound, mentioning: "article \(a.id) does not exist") { try await reader.article(a.id) }
        }
        #expect(try await world.ben.article(a.id).title == "Refunds")  // ben shares team billing with ana

        let v2 = try await world.ana.updateArticle(a.id, title: "Refunds and credits", body: "Refunds within 30 days; credits any time.",
                                                   expectedVersion: 1)
        #expect(v2.revision == 2 && v2.version == 2 && v2.updatedBy == "ana")
        await expectRPCError(.aborted, mentioning: "not the expected_version 1") {
            try await world.ben.updateArticle(a.id, body: "stale", expectedVersion: 1)
        }
        // Only the category: a new version, no new revision.
        let moved = try await world.ana.updateArticle(a.id, category: 0, mask: ["category_id"])
        #expect(moved.revision == 2 && moved.version == 3 && moved.categoryID == 0)
        // Nothing changed: no version, no revision.
        #expect(try await world.ana.updateArticle(a.id, title: "Refunds and credits").version == 3)

        let live = try await world.mia.publish(a.id, .published, expectedVersion: 3)
        #expect(live.state == .published && live.liveRevision == 2 && live.publishedUnixUs > 0 && live.version == 4)
        #expect(try await kb.pub.article(a.id).title == "Refunds and credits")
        // An edit of a live article waits for the next publish.
        _ = try await world.ben.updateArticle(a.id, title: "Refunds, credits and vouchers", body: "Now with vouchers.")
        let readers = try await kb.pub.article(a.id)
        #expect(readers.title == "Refunds and credits" && readers.body == "Refunds within 30 days; credits any time.")
        #expect(readers.revision == 2 && readers.latestRevision == 0 && readers.updatedBy == "")
        let writers = try await world.ana.article(a.id)
        #expect(writers.title == "Refunds, credits and vouchers" && writers.revision == 3 && writers.liveRevision == 2)

        let revisions = try await world.ana.revisions(a.id).revisions
        #expect(revisions.map(\.number) == [3, 2, 1])
        #expect(revisions.map(\.live) == [false, true, false])
        #expect(revisions.map(\.savedBy) == ["ben", "ana", "ana"] && revisions.allSatisfy { $0.savedUnixUs > 0 })
        #expect(revisions[2].title == "Refunds" && revisions[2].body == "Ask for a refund within 30 days.")
        // Revisions hold unpublished text: writers only.
        await expectRPCError(.permissionDenied, mentioning: "lacks permission service.article.write") { try await kb.rita.revisions(a.id) }
        await expectRPCError(.notFound, mentioning: "does not exist") { try await kb.dan.revisions(a.id) }

        // Roll back to revision 1, then make it internal.
        #expect(try await world.mia.publish(a.id, revision: 1).liveRevision == 1)
        #expect(try await kb.pub.article(a.id).title == "Refunds")
        let inside = try await world.mia.publish(a.id, .internal)
        #expect(inside.state == .internal && inside.liveRevision == 3)
        for reader in [kb.rita, kb.pub] {
            await expectRPCError(.notFound, mentioning: "does not exist") { try await reader.article(a.id) }
        }
        #expect(try await kb.dan.article(a.id).title == "Refunds, credits and vouchers")
        // Publishing what is live already changes nothing.
        #expect(try await world.mia.publish(a.id, .internal).version == inside.version)

        let archived = try await world.mia.archive(a.id, expectedVersion: inside.version)
        #expect(archived.state == .archived && archived.archivedUnixUs > 0)
        #expect(try await world.mia.archive(a.id).version == archived.version)
        await expectRPCError(.notFound, mentioning: "does not exist") { try await kb.dan.article(a.id) }
        #expect(try await world.ana.articles().articles.isEmpty)
        #expect(try await world.ana.articles(state: .archived).articles.map(\.id) == [a.id])
        // PublishArticle brings it back.
        #expect(try await world.mia.publish(a.id).state == .published)

        #expect(try await eventually { await received.topics.count == 5 })
        #expect(await received.topics == ["service.article.published", "service.article.published", "service.article.published",
                                           "service.article.archived", "service.article.published"])
        let events = await received.events
        #expect(events.map(\.previousState) == [.draft, .published, .published, .internal, .archived])
        #expect(events.map(\.article.liveRevision) == [2, 1, 3, 3, 3] && events.allSatisfy { $0.article.body.isEmpty })
    }

    @Test func retriesWithAKeyAnswerTheFirstResult() async throws {
        let kb = try await KnowledgeWorld.start()
        let world = kb.world
        let c = try await world.mia.createCategory("Setup", key: "cat-1")
        #expect(try await world.mia.createCategory("Setup", key: "cat-1").id == c.id)
        #expect(try await world.mia.categories().categories.count == 1)
        let a = try await world.ana.createArticle("Install", "Run the installer.", key: "art-1")
        #expect(try await world.ana.createArticle("Install", "Run the installer.", key: "art-1") == a)
        #expect(try await world.ana.articles().articles.count == 1)
        await expectRPCError(.failedPrecondition, mentioning: "idempotency_key \"art-1\" was already used") {
            try await world.ana.createArticle("Install again", key: "art-1")
        }
        // Another caller's key is not theirs to read back.
        await expectRPCError(.failedPrecondition, mentioning: "idempotency_key \"art-1\"") {
            try await kb.dan.createArticle("Install", "Run the installer.", key: "art-1")
        }
        let p = try await world.mia.publish(a.id, key: "pub-1")
        // The retry after a later edit answers the article as it is, and publishes nothing again.
        _ = try await world.ana.updateArticle(a.id, body: "Run the installer as root.")
        let again = try await world.mia.publish(a.id, key: "pub-1")
        #expect(again.liveRevision == p.liveRevision && again.revision == 2 && again.version == p.version + 1)
        let x = try await world.mia.archive(a.id, key: "arch-1")
        #expect(try await world.mia.archive(a.id, key: "arch-1").version == x.version)
        await expectRPCError(.failedPrecondition, mentioning: "idempotency_key \"arch-1\"") {
            try await world.mia.archive(a.id, expectedVersion: 99, key: "arch-1")
        }
    }

    @Test func badInputGetsTheStatusTheProtoNames() async throws {
        let kb = try await KnowledgeWorld.start()
        let world = kb.world
        // Categories.
        await expectRPCError(.invalidArgument, mentioning: "category.name is required") { try await world.mia.createCategory("  ") }
        await expectRPCError(.invalidArgument, mentioning: "category.name is longer than 100") {
            try await world.mia.createCategory(String(repeating: "x", count: 101))
        }
        await expectRPCError(.permissionDenied, mentioning: "service.article_category.write at scope all") {
            try await world.ana.createCategory("Mine")
        }
        let cat = try await world.mia.createCategory("Printers")
        await expectRPCError(.aborted, mentioning: "expected_version 7") {
            try await world.mia.call("UpdateArticleCategory", Crm_Service_V1_UpdateArticleCategoryRequest.with {
                $0.category.id = cat.id; $0.category.name = "Printing"; $0.expectedVersion = 7
            }, as: Crm_Service_V1_ArticleCategory.self)
        }
        await expectRPCError(.notFound, mentioning: "category 999 does not exist") {
            try await world.mia.call("DeleteArticleCategory", Crm_Service_V1_DeleteArticleCategoryRequest.with { $0.id = 999 },
                                     as: Crm_Service_V1_DeleteArticleCategoryResponse.self)
        }
        // Articles.
        await expectRPCError(.invalidArgument, mentioning: "article.title is required") { try await world.ana.createArticle(" ") }
        await expectRPCError(.invalidArgument, mentioning: "article.title is longer than 300") {
            try await world.ana.createArticle(String(repeating: "t", count: 301))
        }
        await expectRPCError(.invalidArgument, mentioning: "article.body is longer than 65536") {
            try await world.ana.createArticle("Big", String(repeating: "b", count: 65_537))
        }
        await expectRPCError(.invalidArgument, mentioning: "article.category_id must be a positive id") {
            try await world.ana.createArticle("Neg", category: -1)
        }
        await expectRPCError(.notFound, mentioning: "article.category_id: category 999 does not exist") {
            try await world.ana.createArticle("Nowhere", category: 999)
        }
        let a = try await world.ana.createArticle("Jam", "Open the tray.", category: cat.id)
        await expectRPCError(.failedPrecondition, mentioning: "still holds articles") {
            try await world.mia.call("DeleteArticleCategory", Crm_Service_V1_DeleteArticleCategoryRequest.with { $0.id = cat.id },
                                     as: Crm_Service_V1_DeleteArticleCategoryResponse.self)
        }
        await expectRPCError(.invalidArgument, mentioning: "id is required") { try await world.ana.article(0) }
        await expectRPCError(.invalidArgument, mentioning: "must be a positive id") { try await world.ana.article(-4) }
        await expectRPCError(.notFound, mentioning: "article 999 does not exist") { try await world.ana.article(999) }
        await expectRPCError(.invalidArgument, mentioning: "use PublishArticle or ArchiveArticle") {
            try await world.ana.updateArticle(a.id, title: "x", mask: ["state"])
        }
        await expectRPCError(.invalidArgument, mentioning: "names unknown field \"colour\"") {
            try await world.ana.updateArticle(a.id, title: "x", mask: ["colour"])
        }
        await expectRPCError(.invalidArgument, mentioning: "article.title is required") {
            try await world.ana.updateArticle(a.id, title: "", mask: ["title"])
        }
        await expectRPCError(.invalidArgument, mentioning: "article.id is required") { try await world.ana.updateArticle(0, title: "x") }
        await expectRPCError(.invalidArgument, mentioning: "state is required") { try await world.mia.publish(a.id, .unspecified) }
        await expectRPCError(.invalidArgument, mentioning: "published as ARTICLE_STATE_INTERNAL or ARTICLE_STATE_PUBLISHED") {
            try await world.mia.publish(a.id, .draft)
        }
        await expectRPCError(.invalidArgument, mentioning: "revision must not be negative") { try await world.mia.publish(a.id, revision: -1) }
        await expectRPCError(.notFound, mentioning: "has no revision 9") { try await world.mia.publish(a.id, revision: 9) }
        await expectRPCError(.aborted, mentioning: "expected_version 5") { try await world.mia.publish(a.id, expectedVersion: 5) }
        await expectRPCError(.aborted, mentioning: "expected_version 5") { try await world.mia.archive(a.id, expectedVersion: 5) }
        await expectRPCError(.notFound, mentioning: "article 999 does not exist") { try await world.mia.publish(999) }
        await expectRPCError(.invalidArgument, mentioning: "id is required") { try await world.mia.archive(0) }
        // Out of the caller's write or publish scope: dan sees the live article, may not change it.
        _ = try await world.mia.publish(a.id)
        await expectRPCError(.permissionDenied, mentioning: "outside your record scope") { try await kb.dan.updateArticle(a.id, title: "Mine") }
        await expectRPCError(.permissionDenied, mentioning: "outside your record scope") { try await kb.dan.archive(a.id) }
        await expectRPCError(.permissionDenied, mentioning: "lacks permission service.article.write") { try await kb.rita.createArticle("No") }
        await expectRPCError(.permissionDenied, mentioning: "lacks permission service.article.publish") { try await kb.pub.archive(a.id) }
        // Lists.
        await expectRPCError(.invalidArgument, mentioning: "state 9 is out of range") {
            try await world.ana.articles(state: .UNRECOGNIZED(9))
        }
        await expectRPCError(.invalidArgument, mentioning: "page_token is not a token") { try await world.ana.articles(token: "nonsense") }
        await expectRPCError(.invalidArgument, mentioning: "page_size must not be negative") { try await world.ana.articles(pageSize: -1) }
        await expectRPCError(.notFound, mentioning: "category_id: category 999") { try await world.ana.articles(category: 999) }
        await expectRPCError(.invalidArgument, mentioning: "article_id is required") { try await world.ana.revisions(0) }
        await expectRPCError(.invalidArgument, mentioning: "page_token is not a token") { try await world.ana.revisions(a.id, token: "eA") }
    }

    @Test func listsPaginateByKeyset() async throws {
        let kb = try await KnowledgeWorld.start()
        let world = kb.world
        for name in ["Delta", "alpha", "Charlie", "Bravo", "Echo"] { _ = try await world.mia.createCategory(name) }
        var names: [String] = []
        var token = ""
        repeat {
            let page = try await world.ana.categories(pageSize: 2, token: token)
            #expect(page.categories.count <= 2)
            names += page.categories.map(\.name)
            token = page.nextPageToken
        } while !token.isEmpty
        #expect(names == ["Bravo", "Charlie", "Delta", "Echo", "alpha"])

        var ids: [Int64] = []
        for i in 1...7 { ids.append(try await world.ana.createArticle("Article \(i)").id) }
        for id in ids where id % 2 == 0 { _ = try await world.mia.publish(id) }
        var seen: [Int64] = []
        token = ""
        repeat {
            let page = try await world.ana.articles(pageSize: 3, token: token)
            seen += page.articles.map(\.id)
            token = page.nextPageToken
        } while !token.isEmpty
        #expect(seen == ids)
        // A reader's pages hold only what they may see.
        #expect(try await kb.pub.articles(pageSize: 2).articles.map(\.id) == ids.filter { $0 % 2 == 0 }.prefix(2).map { $0 })

        for i in 2...5 { _ = try await world.ana.updateArticle(ids[0], body: "edit \(i)") }
        let first = try await world.ana.revisions(ids[0], pageSize: 2)
        #expect(first.revisions.map(\.number) == [5, 4])
        let second = try await world.ana.revisions(ids[0], pageSize: 2, token: first.nextPageToken)
        let third = try await world.ana.revisions(ids[0], pageSize: 2, token: second.nextPageToken)
        #expect(second.revisions.map(\.number) == [3, 2] && third.revisions.map(\.number) == [1] && third.nextPageToken.isEmpty)
    }
}
