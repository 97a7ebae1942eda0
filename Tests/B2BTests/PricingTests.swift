import B2BTestClient
import CRMClient
import CRMProto
import CRMWire
import CRMTestSupport
import Foundation
import Testing

/// The rounding cases of issue 16, priced by the running plugin
/// (PriceQuote, and stored quotes where it matters): exact integers only,
/// every total the sum of what is shown.
@Suite struct PricingTests {
    /// Three lines of a third of 10.00 at 20 % tax: 3 × 3.33 = 9.99. Per
    /// line each tax is 0.666 → 0.67 (2.01 in all); on the total 1.998 →
    /// 2.00, shared 0.67 + 0.67 + 0.66. Quantities of 0.333 at 10.00 price
    /// the same. Both add up exactly; neither invents a cent.
    @Test func threeLinesOfAThirdAddUpUnderBothPolicies() async throws {
        let world = try await B2BWorld.start(users: [])
        for quantities in [("1", Int64(333)), ("0.333", Int64(1000))] {
            let lines = Array(repeating: Q.line(quantities.0, quantities.1, taxBp: 2000), count: 3)
            let perLine = try await world.admin.price(book: world.eur.id, Q.content([Q.section("Thirds", lines)], level: .perLine))
            #expect(perLine.content.sections[0].lines.map(\.netMinor) == [333, 333, 333])
            #expect(perLine.content.sections[0].lines.map(\.taxMinor) == [67, 67, 67])
            #expect(perLine.totals == .with { $0.amountMinor = 999; $0.netMinor = 999; $0.taxMinor = 201; $0.totalMinor = 1200 })
            let onTotal = try await world.admin.price(book: world.eur.id, Q.content([Q.section("Thirds", lines)], level: .onTotal))
            #expect(onTotal.content.sections[0].lines.map(\.taxMinor) == [67, 67, 66])
            #expect(onTotal.totals == .with { $0.amountMinor = 999; $0.netMinor = 999; $0.taxMinor = 200; $0.totalMinor = 1199 })
            #expect(onTotal.taxes == [.with { $0.rateBp = 2000; $0.baseMinor = 999; $0.taxMinor = 200 }])
            for priced in [perLine, onTotal] { #expect(inconsistencies(priced.content, priced.totals, priced.taxes) == []) }
            #expect(perLine.content.sections[0].lines[0].quantity == quantities.0)
        }
    }

    /// Odoo PR #248889: lines of 4 and 5 at 2.8207 with 15 % tax, fully
    /// discounted, left a non-zero total. Here quantities with thousandths
    /// give the sub-cent amounts; a 100 % discount is exactly zero per line,
    /// per section and in total, under every policy.
    @Test func aHundredPercentDiscountIsExactlyZero() async throws {
        let world = try await B2BWorld.start(users: [])
        let lines = [Q.line("4.333", 282, discountBp: 10_000, taxBp: 1500), Q.line("5.001", 282, discountBp: 10_000, taxBp: 1500),
                     Q.line("1", product: world.widget.id, discountBp: 10_000, taxBp: 1500)]
        for mode in [Crm_B2b_V1_RoundingMode.halfEven, .halfUp] {
            for level in [Crm_B2b_V1_RoundingLevel.perLine, .onTotal] {
                let priced = try await world.admin.price(book: world.eur.id, Q.content([Q.section("Free", lines)], mode: mode, level: level))
                #expect(priced.content.sections[0].lines.map(\.amountMinor) == [1222, 1410, 1250])
                #expect(priced.content.sections[0].lines.map(\.netMinor) == [0, 0, 0])
                #expect(priced.content.sections[0].lines.map(\.taxMinor) == [0, 0, 0])
                #expect(priced.totals.discountMinor == 3882)
                #expect(priced.totals.netMinor == 0 && priced.totals.taxMinor == 0 && priced.totals.totalMinor == 0)
                #expect(inconsistencies(priced.content, priced.totals, priced.taxes) == [])
            }
        }
        // An amount discount of the whole line is zero too.
        let whole = try await world.admin.price(book: world.eur.id, Q.content([Q.section("A", [
            Q.line("2", 1250, discountAmount: 2500, taxBp: 2000)])]))
        #expect(whole.totals.totalMinor == 0 && whole.totals.discountMinor == 2500)
    }

    /// .5 cases: half-even goes to the even neighbour, half-up away from
    /// zero, for the line amount (0.5 × 0.05 = 2.5 minor) and for tax (10 %
    /// of 0.25 = 2.5, of 0.35 = 3.5), per line and on the total.
    @Test func halfEvenAndHalfUpDifferOnlyOnExactHalves() async throws {
        let world = try await B2BWorld.start(users: [])
        func price(_ lines: [BLine], _ mode: Crm_B2b_V1_RoundingMode, _ level: Crm_B2b_V1_RoundingLevel = .perLine) async throws
            -> Crm_B2b_V1_PricedQuote {
            try await world.admin.price(book: world.eur.id, Q.content([Q.section("Halves", lines)], mode: mode, level: level))
        }
        let amountHalf = [Q.line("0.5", 5)]
        #expect(try await price(amountHalf, .halfEven).totals.amountMinor == 2)
        #expect(try await price(amountHalf, .halfUp).totals.amountMinor == 3)
        let amountHalfOdd = [Q.line("0.5", 7)]  // 3.5
        #expect(try await price(amountHalfOdd, .halfEven).totals.amountMinor == 4)
        #expect(try await price(amountHalfOdd, .halfUp).totals.amountMinor == 4)
        let taxHalves = [Q.line("1", 25, taxBp: 1000), Q.line("1", 35, taxBp: 1000)]  // 2.5 and 3.5
        let even = try await price(taxHalves, .halfEven)
        let up = try await price(taxHalves, .halfUp)
        #expect(even.content.sections[0].lines.map(\.taxMinor) == [2, 4])
        #expect(up.content.sections[0].lines.map(\.taxMinor) == [3, 4])
        // On the total: 6.0 exactly, no half anywhere: both give 6, shared 2 + 4 or 3 + 3 by remainders (0.5 each: the earlier first).
        let evenTotal = try await price(taxHalves, .halfEven, .onTotal)
        #expect(evenTotal.totals.taxMinor == 6)
        #expect(evenTotal.content.sections[0].lines.map(\.taxMinor) == [3, 3])
        // A half on the total: 10 % of 0.25 alone.
        #expect(try await price([Q.line("1", 25, taxBp: 1000)], .halfEven, .onTotal).totals.taxMinor == 2)
        #expect(try await price([Q.line("1", 25, taxBp: 1000)], .halfUp, .onTotal).totals.taxMinor == 3)
        // Not a half: .49 and .51 round the same in both modes.
        #expect(try await price([Q.line("1", 249, taxBp: 100)], .halfUp).totals.taxMinor == 2)    // 2.49
        #expect(try await price([Q.line("1", 251, taxBp: 100)], .halfEven).totals.taxMinor == 3)  // 2.51
        // Percent discounts round net the same way: 12.5 % of 0.20 is 2.5 off 20 → 17.5.
        #expect(try await price([Q.line("1", 20, discountBp: 1250)], .halfEven).totals.netMinor == 18)
        #expect(try await price([Q.line("1", 20, discountBp: 1250)], .halfUp).totals.netMinor == 18)
        #expect(try await price([Q.line("1", 60, discountBp: 1250)], .halfEven).totals.netMinor == 52)  // 52.5
        #expect(try await price([Q.line("1", 60, discountBp: 1250)], .halfUp).totals.netMinor == 53)
    }

    /// SuiteCRM #2649 and #1234: totals across groups. Several sections with
    /// several rates: each section is the sum of its lines, the quote the
    /// sum of its sections, and on the total the tax of each rate is
    /// rounded once for the whole quote (19 % of 49.99 = 9.4981 → 9.50),
    /// where per line it is 3 × 1.58 + 4.75 = 9.49: each policy consistent.
    @Test func severalSectionsAddUpToTheQuote() async throws {
        let world = try await B2BWorld.start(users: [])
        let sections = [
            Q.section("Hardware", [Q.line("1", 833, taxBp: 1900), Q.line("2", product: world.widget.id, taxBp: 1900)]),
            Q.section("Software", [Q.line("1", 833, taxBp: 1900), Q.line("3", 999, discountBp: 1000, taxBp: 700)]),
            Q.section("Services", [Q.line("1", 833, taxBp: 1900), Q.line("1.5", product: world.support.id, taxBp: 0)]),
        ]
        let onTotal = try await world.admin.price(book: world.eur.id, Q.content(sections, level: .onTotal))
        #expect(inconsistencies(onTotal.content, onTotal.totals, onTotal.taxes) == [])
        #expect(onTotal.taxes.map(\.rateBp) == [0, 700, 1900])
        // 19 %: base 833 × 3 + 2500 = 4999; 949.81 → 950.
        #expect(onTotal.taxes[2] == .with { $0.rateBp = 1900; $0.baseMinor = 4999; $0.taxMinor = 950 })
        #expect(onTotal.content.sections[1].lines[1].netMinor == 2697)  // 3 × 9.99 − 10 % = 26.973
        let perLine = try await world.admin.price(book: world.eur.id, Q.content(sections, level: .perLine))
        #expect(inconsistencies(perLine.content, perLine.totals, perLine.taxes) == [])
        // 158.27 per 8.33 line → 158 each, 475 for the three, 950 for the widgets
        #expect(perLine.taxes[2].taxMinor == 158 * 3 + 475)
        #expect(perLine.totals.netMinor == onTotal.totals.netMinor)
    }

    /// Odoo #13687 and #177192: figures that disagree by rounding. Many
    /// lines of awkward quantities, prices, discounts and rates, under all
    /// four policies: every figure shown is the exact sum of those beneath it.
    @Test func totalsNeverDisagreeWithTheSumOfWhatIsShown() async throws {
        let world = try await B2BWorld.start(users: [])
        var seed: UInt64 = 0x5EED
        func next(_ bound: UInt64) -> UInt64 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return (seed >> 33) % bound
        }
        let rates: [Int32] = [0, 550, 700, 1000, 1900, 2000, 2100]
        let sections = (0..<5).map { s in
            Q.section("S\(s)", (0..<40).map { _ in
                let quantity = "\(next(20)).\(next(1000))".replacingOccurrences(of: "^0\\.0$", with: "1", options: .regularExpression)
                return next(3) == 0
                    ? Q.line(quantity == "0.0" ? "1" : quantity, Int64(next(100_000)), discountAmount: 0,
                             taxBp: rates[Int(next(UInt64(rates.count)))])
                    : Q.line(quantity == "0.0" ? "1" : quantity, Int64(next(100_000)), discountBp: Int32(next(10_001)),
                             taxBp: rates[Int(next(UInt64(rates.count)))])
            })
        }
        for mode in [Crm_B2b_V1_RoundingMode.halfEven, .halfUp] {
            for level in [Crm_B2b_V1_RoundingLevel.perLine, .onTotal] {
                let priced = try await world.admin.price(book: world.eur.id, Q.content(sections, mode: mode, level: level))
                #expect(inconsistencies(priced.content, priced.totals, priced.taxes) == [], "\(mode) \(level)")
            }
        }
    }

    /// A quote has one currency, its price book's: product lines take that
    /// book's prices, a product without a price there is refused, and a
    /// currency that contradicts the book is INVALID_ARGUMENT.
    @Test func aQuoteHasOneCurrencyAndItsLinesMatchItsBook() async throws {
        let world = try await B2BWorld.start(users: [])
        let usd = try await world.admin.createBook("Standard USD", "USD")
        #expect(usd.isDefault, "the first book of a currency is its default")
        try await world.admin.setPrice(book: usd.id, product: world.widget.id, 1399)
        let jpy = try await world.admin.createBook("Japan", "JPY")
        try await world.admin.setPrice(book: jpy.id, product: world.widget.id, 2000)
        let deal = try await world.opportunity()
        let content = Q.content([Q.section("Goods", [Q.line("2", product: world.widget.id)])])
        let inUSD = try await world.admin.createQuote(opportunity: deal.opportunity.id, currency: "USD", content)
        #expect(inUSD.currency == "USD" && inUSD.priceBookID == usd.id)
        #expect(inUSD.totals.totalMinor == 2798)
        let inEUR = try await world.admin.createQuote(opportunity: deal.opportunity.id, currency: "EUR", content)
        #expect(inEUR.currency == "EUR" && inEUR.totals.totalMinor == 2500)
        let inJPY = try await world.admin.createQuote(opportunity: deal.opportunity.id, book: jpy.id, content)
        #expect(try await world.admin.render(inJPY.id).html.contains("<td class=\"n\">4000</td>"), "JPY has no minor digits")
        let onlyEUR = [Q.line("1", product: world.support.id)]
        #expect(await failure { try await world.admin.createQuote(opportunity: deal.opportunity.id, currency: "USD",
                                                                  Q.content([Q.section("S", onlyEUR)])) }?.0 == .failedPrecondition)
        await expectRPCError(.failedPrecondition, mentioning: "has no price in price book \(usd.id) (USD)") {
            try await world.admin.updateQuote(inUSD.id, Q.content([Q.section("S", onlyEUR)]))
        }
        await expectRPCError(.invalidArgument, mentioning: "currency GBP is not price book \(usd.id)'s currency") {
            try await world.admin.createQuote(opportunity: deal.opportunity.id, book: usd.id, currency: "GBP", content)
        }
        await expectRPCError(.notFound, mentioning: "no default price book for GBP") {
            try await world.admin.createQuote(opportunity: deal.opportunity.id, currency: "GBP", content)
        }
        await expectRPCError(.invalidArgument, mentioning: "price_book_id or currency is required") {
            try await world.admin.createQuote(opportunity: deal.opportunity.id, content)
        }
    }

    /// Amounts past 10^15 minor units, on a line or summed, are OUT_OF_RANGE
    /// (the arithmetic is exact in 128 bits; nothing wraps, crmd lives on).
    @Test func overflowIsOutOfRange() async throws {
        let world = try await B2BWorld.start(users: [])
        await expectRPCError(.outOfRange, mentioning: "content.sections[0].lines[0] amount") {
            try await world.admin.price(book: world.eur.id, Q.content([Q.section("Big", [Q.line("1000000000", 1_000_000_000_000_000)])]))
        }
        await expectRPCError(.outOfRange, mentioning: "the quote amount") {
            try await world.admin.price(book: world.eur.id, Q.content([Q.section("Big", [Q.line("1", 1_000_000_000_000_000)]),
                                                                       Q.section("Bigger", [Q.line("1", 1_000_000_000_000_000)])]))
        }
        await expectRPCError(.outOfRange, mentioning: "total") {
            try await world.admin.price(book: world.eur.id, Q.content([Q.section("Big", [
                Q.line("1", 1_000_000_000_000_000, taxBp: 10_000)])]))
        }
        // Still serving.
        let small = try await world.admin.price(book: world.eur.id, Q.content([Q.section("S", [Q.line("1", 1)])]))
        #expect(small.totals.totalMinor == 1)
    }

    /// Each bad field is INVALID_ARGUMENT naming it; missing products
    /// NOT_FOUND; an inactive product FAILED_PRECONDITION.
    @Test func badContentIsRefusedNamingTheField() async throws {
        let world = try await B2BWorld.start(users: [])
        func refused(_ code: Crm_Rpc_V1_StatusCode, _ mentioning: String, _ content: BContent,
                     sourceLocation: SourceLocation = #_sourceLocation) async {
            await expectRPCError(code, mentioning: mentioning, sourceLocation: sourceLocation) {
                try await world.admin.price(book: world.eur.id, content)
            }
        }
        func one(_ line: BLine) -> BContent { Q.content([Q.section("S", [line])]) }
        for quantity in ["0", "-1", "1.2345", "1e3", "abc", "", "1,5", ".5", "1.", "0.000", " 1 2"] {
            await refused(.invalidArgument, "content.sections[0].lines[0].quantity", one(Q.line(quantity, 100)))
        }
        await refused(.invalidArgument, "above the largest quantity", one(Q.line("1000000000.001", 1)))
        await refused(.invalidArgument, "unit_price_minor", one(Q.line("1", -1)))
        await refused(.invalidArgument, "unit_price_minor", one(Q.line("1", 1_000_000_000_000_001)))
        await refused(.invalidArgument, "unit_price_minor is required", one(Q.line("1")))
        await refused(.invalidArgument, "description", one(BLine.with { $0.quantity = "1"; $0.unitPriceMinor = 5 }))
        await refused(.invalidArgument, "discount_percent_bp", one(Q.line("1", 100, discountBp: 10_001)))
        await refused(.invalidArgument, "discount_percent_bp", one(Q.line("1", 100, discountBp: -1)))
        await refused(.invalidArgument, "not both", one(Q.line("1", 100, discountBp: 10, discountAmount: 5)))
        await refused(.invalidArgument, "is more than the line's amount, 100", one(Q.line("1", 100, discountAmount: 101)))
        await refused(.invalidArgument, "must not be negative", one(Q.line("1", 100, discountAmount: -1)))
        await refused(.invalidArgument, "tax_rate_bp", one(Q.line("1", 100, taxBp: 10_001)))
        await refused(.invalidArgument, "rounding.mode is required", BContent.with {
            $0.rounding.level = .perLine; $0.sections = [Q.section("S", [Q.line("1", 1)])]
        })
        await refused(.invalidArgument, "rounding.level is required", BContent.with {
            $0.rounding.mode = .halfUp; $0.sections = [Q.section("S", [Q.line("1", 1)])]
        })
        await refused(.invalidArgument, "1 to 50 sections", Q.content([]))
        await refused(.invalidArgument, "at most 2000", Q.content((0..<3).map { _ in Q.section("S", Array(repeating: Q.line("1", 1), count: 700)) }))
        await refused(.invalidArgument, "content.valid_until", BContent.with {
            $0 = Q.content([Q.section("S", [Q.line("1", 1)])]); $0.validUntil = "2026-13-01"
        })
        await refused(.invalidArgument, "content.title", BContent.with {
            $0 = Q.content([Q.section("S", [Q.line("1", 1)])]); $0.title = String(repeating: "x", count: 201)
        })
        await refused(.invalidArgument, "content.sections[0].lines[0].product_id", one(Q.line("1", product: -4)))
        await refused(.notFound, "product 999 does not exist", one(Q.line("1", product: 999)))
        let old = try await world.admin.createProduct("OLD-1", "Old thing")
        try await world.admin.setPrice(book: world.eur.id, product: old.id, 100)
        _ = try await world.admin.call("UpdateProduct", Crm_B2b_V1_UpdateProductRequest.with {
            $0.product.id = old.id; $0.product.active = false; $0.updateMask = ["active"]
        }, as: Crm_B2b_V1_Product.self)
        await refused(.failedPrecondition, "is inactive", one(Q.line("1", product: old.id)))
        await expectRPCError(.notFound, mentioning: "price_book_id: price book 77") {
            try await world.admin.price(book: 77, one(Q.line("1", 1)))
        }
    }
}
