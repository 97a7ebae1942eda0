import B2BTestClient
import CRMClient
import CRMProto
import CRMWire
import CRMTestSupport
import Foundation
import SalesTestClient
import Testing

/// Record scope: a quote belongs to its opportunity's owner. A rep sees
/// and works the quotes of their own opportunities only; the manager all.
@Suite struct B2BAccessTests {
    func content(_ world: B2BWorld) -> BContent { Q.content([Q.section("G", [Q.line("1", product: world.widget.id)])]) }

    @Test func aRepSeesOnlyQuotesOfTheirOwnOpportunities() async throws {
        let world = try await B2BWorld.start()
        let annsDeal = try await world.opportunity(owner: "ann")
        let bobsDeal = try await world.opportunity(owner: "bob", organization: "Globex")
        let annsQuote = try await world.ann.createQuote(opportunity: annsDeal.opportunity.id, currency: "EUR", content(world))
        let bobsQuote = try await world.bob.createQuote(opportunity: bobsDeal.opportunity.id, currency: "EUR", content(world))
        #expect(annsQuote.owner == "ann" && bobsQuote.owner == "bob")
        // Another rep's quote does not exist for ann, on every read path.
        await expectRPCError(.notFound, mentioning: "id: quote \(bobsQuote.id) does not exist") { try await world.ann.getQuote(bobsQuote.id) }
        await expectRPCError(.notFound, mentioning: "id: quote \(bobsQuote.id) does not exist") { try await world.ann.render(bobsQuote.id) }
        await expectRPCError(.notFound, mentioning: "quote_id: quote \(bobsQuote.id) does not exist") {
            try await world.ann.revisions(bobsQuote.id)
        }
        #expect(try await world.ann.listQuotes().quotes.map(\.id) == [annsQuote.id])
        #expect(try await world.bob.listQuotes().quotes.map(\.id) == [bobsQuote.id])
        #expect(try await world.meg.listQuotes().quotes.map(\.id) == [annsQuote.id, bobsQuote.id])
        #expect(try await world.rita.listQuotes().quotes.count == 2, "read_only reads every quote")
        // Writes to it are PERMISSION_DENIED; a quote on bob's opportunity cannot be made by ann (sales: not found).
        await expectRPCError(.permissionDenied, mentioning: "id: quote \(bobsQuote.id) is outside your record scope") {
            try await world.ann.updateQuote(bobsQuote.id, content(world))
        }
        await expectRPCError(.permissionDenied, mentioning: "is outside your record scope") { try await world.ann.send(bobsQuote.id) }
        await expectRPCError(.notFound, mentioning: "opportunity_id: opportunity \(bobsDeal.opportunity.id) does not exist") {
            try await world.ann.createQuote(opportunity: bobsDeal.opportunity.id, currency: "EUR", content(world))
        }
        // Catalog: reps read it, only managers (and administrators) change it.
        await expectRPCError(.permissionDenied, mentioning: "lacks permission b2b.product.write") {
            try await world.ann.createProduct("X-1", "X")
        }
        #expect(try await world.ann.price(book: world.eur.id, content(world)).totals.totalMinor == 1250)
        await expectRPCError(.permissionDenied, mentioning: "lacks permission b2b.quote.write") {
            try await world.rita.createQuote(opportunity: annsDeal.opportunity.id, currency: "EUR", content(world))
        }
        _ = try await world.meg.createProduct("M-1", "Managed")
        // The rep sends their own quote.
        #expect(try await world.ann.send(annsQuote.id).status == .sent)
    }

    /// Reassigning the opportunity moves its quotes with it (through sales'
    /// event): the new owner sees them, the old one no longer does.
    @Test func aQuoteFollowsItsOpportunitysOwner() async throws {
        let world = try await B2BWorld.start()
        let deal = try await world.opportunity(owner: "ann")
        let quote = try await world.ann.createQuote(opportunity: deal.opportunity.id, currency: "EUR", content(world))
        _ = try await world.sales.call("UpdateOpportunity", Crm_Sales_V1_UpdateOpportunityRequest.with {
            $0.opportunity.id = deal.opportunity.id
            $0.opportunity.owner = "bob"
            $0.updateMask = ["owner"]
        }, as: SOpportunity.self)
        #expect(try await eventually { (try? await world.bob.getQuote(quote.id))?.owner == "bob" })
        await expectRPCError(.notFound, mentioning: "id: quote \(quote.id) does not exist") { try await world.ann.getQuote(quote.id) }
        #expect(try await world.ann.listQuotes().quotes.isEmpty)
        let audit: Crm_Kernel_V1_ListAuditResponse = try await world.connection.call(
            "/crm.kernel.v1.Audit/List", Crm_Kernel_V1_ListAuditRequest.with { $0.entity = "b2b.quote"; $0.recordID = "\(quote.id)" })
        #expect(audit.entries.map(\.action).contains("owner"))
    }
}
