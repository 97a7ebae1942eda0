import B2BTestClient
import CRMClient
import CRMPluginKit
import CRMProto
import CRMWire
import CRMTestSupport
import Foundation
import Testing

/// The rendered quote document and the content hash that identifies a revision.
@Suite struct DocumentTests {
    func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test func theSameRevisionRendersTheSameBytesAndItsHashIsTheirSHA256() async throws {
        let world = try await B2BWorld.start(users: [])
        let deal = try await world.opportunity(organization: "Acme <Industries> & \"Sons\"")
        var content = Q.content([Q.section("Goods & more", [Q.line("2.5", product: world.widget.id, taxBp: 2000),
                                                           Q.line("1", 999, description: "<script>alert(1)</script>", discountBp: 1000)])],
                                title: "Fleet 'renewal'")
        content.notes = "Delivery in\nMarch"
        content.validUntil = "2026-12-31"
        let quote = try await world.admin.createQuote(opportunity: deal.opportunity.id, currency: "EUR", content)
        let first = try await world.admin.render(quote.id)
        let second = try await world.admin.render(quote.id)
        #expect(first == second && first.status == .draft && first.revision == 1)
        #expect(first.contentHash == hex(SHA256.hash(Array(first.html.utf8))))
        let html = first.html
        #expect(html.hasPrefix("<!DOCTYPE html>") && html.contains("<h1>Quote \(quote.id)-1</h1>"))
        #expect(html.contains("Acme &lt;Industries&gt; &amp; &quot;Sons&quot;"), "merged values are escaped")
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !html.contains("<script>"))
        #expect(html.contains("Fleet &#39;renewal&#39;") && html.contains("Goods &amp; more"))
        #expect(html.contains("<td class=\"n\">2.5 each</td><td class=\"n\">12.50</td><td class=\"n\">31.25</td>"))
        #expect(html.contains("<td class=\"n\">9.99</td><td class=\"n\">1.00 (10 %)</td><td class=\"n\">8.99</td>"))
        #expect(html.contains("<dt>Valid until</dt><dd>2026-12-31</dd>") && html.contains("half-even, tax per line"))
        #expect(html.contains("<tr><th>Total (EUR)</th><td class=\"n\">\(Format(quote.totals.totalMinor))</td></tr>"))
        #expect(!html.contains("Grace") && !html.contains("Hopper"), "the document names no person")
        // Sending stores those very bytes: the sent hash is the draft's.
        let sent = try await world.admin.send(quote.id)
        #expect(sent.contentHash == first.contentHash)
        #expect(try await world.admin.render(quote.id) == Crm_B2b_V1_RenderedQuote.with {
            $0 = first; $0.status = .sent
        })
        // Any change of content changes the hash.
        var other = content
        other.sections[0].lines[0].quantity = "2.501"
        let revised = try await world.admin.updateQuote(quote.id, other)
        let changed = try await world.admin.render(quote.id)
        #expect(changed.revision == 2 && changed.contentHash != first.contentHash)
        #expect(try await world.admin.render(quote.id, revision: 1).contentHash == sent.contentHash)
        #expect(revised.revision == 2)
        await expectRPCError(.notFound, mentioning: "has no revision 5") { try await world.admin.render(quote.id, revision: 5) }
        await expectRPCError(.notFound, mentioning: "id: quote 999 does not exist") { try await world.admin.render(999) }
    }

    /// The display form of an amount in EUR, as the document writes it.
    func Format(_ minor: Int64) -> String { String(format: "%lld.%02lld", minor / 100, minor % 100) }
}
