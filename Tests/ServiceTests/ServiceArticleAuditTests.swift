import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import ServiceTestClient
import Testing

/// The knowledge base's audit trail, and crmctl calling its methods with JSON.
@Suite struct ServiceArticleAuditTests {
    func audit(_ world: ServiceWorld, _ entity: String, _ record: Int64) async throws -> [Crm_Kernel_V1_AuditEntry] {
        Array(try await world.audit(entity, record).reversed())  // the trail lists newest first
    }

    @Test func everyArticleWriteIsAuditedWithItsAuthorAsOwner() async throws {
        let world = try await ServiceWorld.start()
        let cat = try await world.mia.createCategory("Billing")
        let a = try await world.ana.createArticle("Refunds", "Within 30 days.")
        _ = try await world.ben.updateArticle(a.id, body: "Within 60 days.")
        _ = try await world.mia.publish(a.id, .internal)
        _ = try await world.ana.updateArticle(a.id, category: cat.id)
        _ = try await world.mia.archive(a.id)
        let entries = try await audit(world, "service.article", a.id)
        #expect(entries.map(\.action) == ["create", "update", "publish", "update", "archive"])
        #expect(entries.map(\.user) == ["ana", "ben", "mia", "ana", "mia"] && entries.allSatisfy { $0.owner == "ana" })
        func changes(_ i: Int) -> [String] { entries[i].changes.map { "\($0.field): \($0.oldValue) -> \($0.newValue)" } }
        #expect(changes(0) == ["body:  -> Within 30 days.", "revision:  -> 1", "state:  -> DRAFT", "title:  -> Refunds"])
        #expect(changes(1) == ["body: Within 30 days. -> Within 60 days.", "revision: 1 -> 2"])
        #expect(changes(2) == ["live_revision:  -> 2", "state: DRAFT -> INTERNAL"])
        #expect(changes(3) == ["category_id:  -> \(cat.id)"])
        #expect(changes(4) == ["state: INTERNAL -> ARCHIVED"])
        #expect(try await audit(world, "service.article_category", cat.id).map(\.action) == ["create"])
    }

    @Test func crmctlCallsTheKnowledgeBaseWithJSON() async throws {
        let world = try await ServiceWorld.start()
        let socket = world.crmd.socketPath
        let created = try CrmctlRun.run(["call", "/crm.service.v1.Service/CreateArticle",
                                        #"{"article":{"title":"Reset a password","body":"Open settings."},"idempotencyKey":"sh-1"}"#],
                                       socket: socket)
        #expect(created.status == 0 && created.stdout.contains("ARTICLE_STATE_DRAFT"), "\(created.stderr)")
        let published = try CrmctlRun.run(["call", "/crm.service.v1.Service/PublishArticle", #"{"id":"1","state":"ARTICLE_STATE_PUBLISHED"}"#],
                                         socket: socket)
        #expect(published.status == 0 && published.stdout.contains("ARTICLE_STATE_PUBLISHED"), "\(published.stderr)")
        let found = try CrmctlRun.run(["call", "/crm.service.v1.Service/SearchArticles",
                                      #"{"query":"passw*","states":["ARTICLE_STATE_PUBLISHED"],"highlightStart":"[","highlightEnd":"]"}"#],
                                     socket: socket)
        #expect(found.status == 0 && found.stdout.contains("[password]"), "\(found.stdout) \(found.stderr)")
        let bad = try CrmctlRun.run(["call", "/crm.service.v1.Service/SearchArticles", #"{"query":"\" *"}"#], socket: socket)
        #expect(bad.status != 0 && bad.stderr.contains("INVALID_ARGUMENT") && bad.stderr.contains("query has no word"), "\(bad.stderr)")
    }
}
