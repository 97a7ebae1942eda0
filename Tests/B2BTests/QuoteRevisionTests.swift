import B2BTestClient
import CRMClient
import CRMProto
import CRMWire
import CRMTestSupport
import Foundation
import Testing

/// Quotes on opportunities and their revisions: a draft changes in place,
/// a sent revision never changes, each edit after sending is a new one.
@Suite struct QuoteRevisionTests {
    func content(_ world: B2BWorld, widgets: String, title: String = "Fleet") -> BContent {
        Q.content([Q.section("Goods", [Q.line(widgets, product: world.widget.id, taxBp: 2000)]),
                   Q.section("Services", [Q.line("3", product: world.support.id, discountBp: 500, taxBp: 2000)])], title: title)
    }

    @Test func aQuoteTakesItsBuyerFromTheOpportunityAndProductsFromTheBook() async throws {
        let world = try await B2BWorld.start(users: [])
        let deal = try await world.opportunity()
        let quote = try await world.admin.createQuote(opportunity: deal.opportunity.id, currency: "EUR",
                                                      content(world, widgets: "10"), key: "q-1")
        #expect(quote.id > 0 && quote.revision == 1 && quote.currentRevision == 1 && quote.status == .draft)
        #expect(quote.personID == deal.person.id && quote.organizationID == deal.organization.id)
        #expect(quote.owner == "ann" && quote.organizationName == "Acme Industries")
        let goods = quote.content.sections[0].lines[0]
        #expect(goods.sku == "WIDGET" && goods.description_p == "Widget" && goods.unitPriceMinor == 1250 && goods.amountMinor == 12500)
        let hours = quote.content.sections[1].lines[0]
        #expect(hours.unit == "hour" && hours.netMinor == 22800 && hours.discountMinor == 1200)
        #expect(quote.totals.netMinor == 35300 && quote.totals.taxMinor == 7060 && quote.totals.totalMinor == 42360)
        #expect(quote.contentHash == "" && quote.version == 1)
        // The same key and request: the same quote, no second one.
        let again = try await world.admin.createQuote(opportunity: deal.opportunity.id, currency: "EUR",
                                                      content(world, widgets: "10"), key: "q-1")
        #expect(again.id == quote.id)
        #expect(try await world.admin.listQuotes(opportunity: deal.opportunity.id).quotes.map(\.id) == [quote.id])
        await expectRPCError(.failedPrecondition, mentioning: "idempotency_key \"q-1\" was already used") {
            try await world.admin.createQuote(opportunity: deal.opportunity.id, currency: "EUR", content(world, widgets: "11"), key: "q-1")
        }
        // An explicit price on a product line is a negotiated price.
        var negotiated = content(world, widgets: "1")
        negotiated.sections[0].lines[0].unitPriceMinor = 999
        #expect(try await world.admin.updateQuote(quote.id, negotiated).content.sections[0].lines[0].amountMinor == 999)
        // The opportunity must exist, be readable and open.
        await expectRPCError(.notFound, mentioning: "opportunity_id: opportunity 999 does not exist") {
            try await world.admin.createQuote(opportunity: 999, currency: "EUR", content(world, widgets: "1"))
        }
        await expectRPCError(.invalidArgument, mentioning: "opportunity_id") {
            try await world.admin.createQuote(opportunity: 0, currency: "EUR", content(world, widgets: "1"))
        }
        await expectRPCError(.invalidArgument, mentioning: "organization_id: the quote's buyer is its opportunity's organization") {
            try await world.admin.createQuote(opportunity: deal.opportunity.id, currency: "EUR", organization: 12345,
                                              content(world, widgets: "1"))
        }
        _ = try await world.sales.lose(deal.opportunity.id, reason: "budget")
        await expectRPCError(.failedPrecondition, mentioning: "is lost; quotes are made on open opportunities") {
            try await world.admin.createQuote(opportunity: deal.opportunity.id, currency: "EUR", content(world, widgets: "1"))
        }
        await expectRPCError(.failedPrecondition, mentioning: "its opportunity \(deal.opportunity.id) is closed") {
            try await world.admin.send(quote.id)
        }
        // An opportunity without an organization takes the one given.
        let bare = try await world.sales.createOpportunity("Bare", owner: "ann")
        let other = try await world.contacts.createOrganization("Globex")
        let forOther = try await world.admin.createQuote(opportunity: bare.id, currency: "EUR", organization: other.id,
                                                         content(world, widgets: "1"))
        #expect(forOther.organizationID == other.id && forOther.personID == 0)
        await expectRPCError(.notFound, mentioning: "organization_id: organization 4242 does not exist") {
            try await world.admin.createQuote(opportunity: bare.id, currency: "EUR", organization: 4242, content(world, widgets: "1"))
        }
    }

    @Test func aDraftChangesInPlaceAndASentRevisionNeverChanges() async throws {
        let world = try await B2BWorld.start(users: [])
        let deal = try await world.opportunity()
        let draft = try await world.admin.createQuote(opportunity: deal.opportunity.id, currency: "EUR", content(world, widgets: "10"))
        let edited = try await world.admin.updateQuote(draft.id, content(world, widgets: "12"), expectedVersion: 1)
        #expect(edited.revision == 1 && edited.currentRevision == 1 && edited.version == 2)
        #expect(edited.content.sections[0].lines[0].amountMinor == 15000)
        await expectRPCError(.aborted, mentioning: "is at version 2, not the expected_version 1") {
            try await world.admin.updateQuote(draft.id, content(world, widgets: "13"), expectedVersion: 1)
        }
        // An edit that changes nothing writes nothing.
        #expect(try await world.admin.updateQuote(draft.id, content(world, widgets: "12")).version == 2)

        let sent = try await world.admin.send(draft.id)
        #expect(sent.status == .sent && sent.revision == 1 && sent.contentHash.count == 64 && sent.sentUnixUs > 0)
        #expect(try await world.admin.send(draft.id) == sent, "sending again changes nothing")
        let document = try await world.admin.render(draft.id, revision: 1)
        #expect(document.contentHash == sent.contentHash && document.status == .sent)

        let revised = try await world.admin.updateQuote(draft.id, content(world, widgets: "20", title: "Fleet, bigger"), key: "edit-1")
        #expect(revised.revision == 2 && revised.currentRevision == 2 && revised.status == .draft && revised.contentHash == "")
        #expect(revised.content.sections[0].lines[0].amountMinor == 25000)
        // A retry of that edit is answered with revision 2, and makes no third.
        let retry = try await world.admin.updateQuote(draft.id, content(world, widgets: "20", title: "Fleet, bigger"), key: "edit-1")
        #expect(retry.revision == 2 && retry.currentRevision == 2)
        // Revision 2 is a draft: edited in place.
        #expect(try await world.admin.updateQuote(draft.id, content(world, widgets: "21")).revision == 2)

        // Revision 1 is exactly what was sent, flagged superseded.
        let first = try await world.admin.getQuote(draft.id, revision: 1)
        #expect(first.content == sent.content && first.totals == sent.totals && first.contentHash == sent.contentHash)
        #expect(first.superseded && first.status == .sent && first.currentRevision == 2)
        #expect(try await world.admin.render(draft.id, revision: 1) == document, "the sent bytes, for ever")
        #expect(try await world.admin.getQuote(draft.id).revision == 2)
        await expectRPCError(.notFound, mentioning: "quote \(draft.id) has no revision 3") { try await world.admin.getQuote(draft.id, revision: 3) }
        await expectRPCError(.invalidArgument, mentioning: "revision must not be negative") {
            try await world.admin.getQuote(draft.id, revision: -1)
        }
        // A retried send of revision 1 is answered as it was sent (and now superseded).
        let resent = try await world.admin.send(draft.id, revision: 1)
        #expect(resent.contentHash == sent.contentHash && resent.superseded && resent.revision == 1)

        let sentTwo = try await world.admin.send(draft.id)
        #expect(sentTwo.revision == 2 && sentTwo.contentHash != sent.contentHash)
        let three = try await world.admin.updateQuote(draft.id, content(world, widgets: "1"))
        #expect(three.revision == 3)
        let list = try await world.admin.revisions(draft.id, pageSize: 2)
        #expect(list.revisions.map(\.revision) == [1, 2] && !list.nextPageToken.isEmpty)
        #expect(list.revisions.allSatisfy { $0.content.sections.allSatisfy(\.lines.isEmpty) }, "lists leave lines out")
        let rest = try await world.admin.revisions(draft.id, pageSize: 2, token: list.nextPageToken)
        #expect(rest.revisions.map(\.revision) == [3] && rest.nextPageToken.isEmpty)
        #expect(rest.revisions[0].status == .draft && list.revisions.map(\.status) == [.sent, .sent])
        await expectRPCError(.invalidArgument, mentioning: "page_token") { try await world.admin.revisions(draft.id, token: "junk") }
        await expectRPCError(.notFound, mentioning: "quote_id: quote 999") { try await world.admin.revisions(999) }
    }

    /// Immutability is the database's, not only the handlers': the triggers
    /// refuse any update or delete of a sent revision, whoever runs the SQL.
    @Test func theDatabaseRefusesToChangeASentRevision() async throws {
        let world = try await B2BWorld.start(users: [])
        let deal = try await world.opportunity()
        let quote = try await world.admin.createQuote(opportunity: deal.opportunity.id, currency: "EUR", content(world, widgets: "2"))
        _ = try await world.admin.send(quote.id)
        _ = try await world.admin.updateQuote(quote.id, content(world, widgets: "3"))
        #expect(try world.crmd.stop() == 0)
        let file = DatabaseFile(dataDir: world.crmd.dir + "/data")
        for sql in ["UPDATE b2b_quote_revisions SET total_minor = 0 WHERE revision = 1",
                    "UPDATE b2b_quote_revisions SET content_hash = 'forged' WHERE revision = 1",
                    "DELETE FROM b2b_quote_revisions WHERE revision = 1"] {
            #expect(throws: TestFailure.self, "\(sql)") { try file.execute(sql) }
        }
        try file.execute("UPDATE b2b_quote_revisions SET total_minor = 1 WHERE revision = 2")  // a draft: allowed
        #expect(try file.rows("SELECT status, total_minor FROM b2b_quote_revisions ORDER BY revision") == [["2", "\(quote.totals.totalMinor)"], ["1", "1"]])
    }

    @Test func listsPaginateByID() async throws {
        let world = try await B2BWorld.start(users: [])
        let deal = try await world.opportunity()
        var ids: [Int64] = []
        for i in 1...5 { ids.append(try await world.admin.createQuote(opportunity: deal.opportunity.id, currency: "EUR",
                                                                      content(world, widgets: "\(i)")).id) }
        var seen: [Int64] = []
        var token = ""
        repeat {
            let page = try await world.admin.listQuotes(pageSize: 2, token: token)
            #expect(page.quotes.count <= 2)
            seen += page.quotes.map(\.id)
            token = page.nextPageToken
        } while !token.isEmpty
        #expect(seen == ids)
        #expect(try await world.admin.listQuotes(opportunity: 999).quotes.isEmpty)
        await expectRPCError(.invalidArgument, mentioning: "page_size") { try await world.admin.listQuotes(pageSize: -1) }
    }
}
