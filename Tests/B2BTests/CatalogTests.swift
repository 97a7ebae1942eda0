import B2BTestClient
import CRMClient
import CRMProto
import CRMWire
import CRMTestSupport
import Foundation
import Testing

/// The product catalog and price books.
@Suite struct CatalogTests {
    @Test func productsHaveUniqueSkusAndUpdateByMask() async throws {
        let world = try await B2BWorld.start(users: [])
        let admin = world.admin
        let p = try await admin.createProduct("LIC-100", "Licence", unit: "seat-month", description: "Per seat", key: "p-1")
        #expect(p.active && p.version == 1 && p.unit == "seat-month")
        #expect(try await admin.createProduct("LIC-100", "Licence", unit: "seat-month", description: "Per seat", key: "p-1").id == p.id)
        await expectRPCError(.alreadyExists, mentioning: "sku \"lic-100\" is taken by product \(p.id)") {
            try await admin.createProduct("lic-100", "Other")
        }
        await expectRPCError(.invalidArgument, mentioning: "product.sku") { try await admin.createProduct("has space", "X") }
        await expectRPCError(.invalidArgument, mentioning: "product.sku") { try await admin.createProduct("", "X") }
        await expectRPCError(.invalidArgument, mentioning: "product.name") { try await admin.createProduct("OK-1", "") }
        await expectRPCError(.invalidArgument, mentioning: "product.unit") {
            try await admin.createProduct("OK-1", "X", unit: String(repeating: "u", count: 33))
        }
        func update(_ product: Crm_B2b_V1_Product, mask: [String], version: Int64 = 0) async throws -> Crm_B2b_V1_Product {
            try await admin.call("UpdateProduct", Crm_B2b_V1_UpdateProductRequest.with {
                $0.product = product; $0.updateMask = mask; $0.expectedVersion = version
            })
        }
        let renamed = try await update(.with { $0.id = p.id; $0.name = "Licence (annual)" }, mask: ["name"], version: 1)
        #expect(renamed.name == "Licence (annual)" && renamed.sku == "LIC-100" && renamed.version == 2)
        let off = try await update(.with { $0.id = p.id; $0.active = false }, mask: ["active"])
        #expect(!off.active && off.version == 3)
        await expectRPCError(.aborted, mentioning: "expected_version 1") { try await update(.with { $0.id = p.id }, mask: ["name"], version: 1) }
        await expectRPCError(.invalidArgument, mentioning: "unknown field \"colour\"") { try await update(.with { $0.id = p.id }, mask: ["colour"]) }
        await expectRPCError(.alreadyExists, mentioning: "is taken") { try await update(.with { $0.id = p.id; $0.sku = "widget" }, mask: ["sku"]) }
        await expectRPCError(.notFound, mentioning: "product.id: product 999") { try await update(.with { $0.id = 999; $0.name = "x" }, mask: ["name"]) }
        // Lists leave inactive products out unless asked, and paginate.
        let active: Crm_B2b_V1_ListProductsResponse = try await admin.call("ListProducts", Crm_B2b_V1_ListProductsRequest.with { $0.pageSize = 1 })
        #expect(active.products.map(\.sku) == ["WIDGET"] && !active.nextPageToken.isEmpty)
        let next: Crm_B2b_V1_ListProductsResponse = try await admin.call("ListProducts", Crm_B2b_V1_ListProductsRequest.with {
            $0.pageSize = 1; $0.pageToken = active.nextPageToken
        })
        #expect(next.products.map(\.sku) == ["SUPPORT"])
        let all: Crm_B2b_V1_ListProductsResponse = try await admin.call("ListProducts", Crm_B2b_V1_ListProductsRequest.with { $0.includeInactive = true })
        #expect(all.products.map(\.sku) == ["WIDGET", "SUPPORT", "LIC-100"])
        await expectRPCError(.notFound, mentioning: "id: product 42") {
            let _: Crm_B2b_V1_Product = try await admin.call("GetProduct", Crm_B2b_V1_GetProductRequest.with { $0.id = 42 })
        }
    }

    @Test func eachCurrencyHasOneDefaultBookAndPricesAreSetPerBook() async throws {
        let world = try await B2BWorld.start(users: [])
        let admin = world.admin
        #expect(world.eur.isDefault)
        let promo = try await admin.createBook("Promo EUR", "EUR")
        #expect(!promo.isDefault)
        let newDefault = try await admin.createBook("2027 EUR", "EUR", isDefault: true, key: "b-1")
        #expect(newDefault.isDefault)
        let books: Crm_B2b_V1_ListPriceBooksResponse = try await admin.call("ListPriceBooks", Crm_B2b_V1_ListPriceBooksRequest.with { $0.currency = "EUR" })
        #expect(books.priceBooks.map(\.isDefault) == [false, false, true])
        #expect(try await admin.createBook("2027 EUR", "EUR", isDefault: true, key: "b-1").id == newDefault.id)
        await expectRPCError(.invalidArgument, mentioning: "price_book.currency") { try await admin.createBook("Bad", "euro") }
        await expectRPCError(.invalidArgument, mentioning: "price_book.name") { try await admin.createBook("", "EUR") }
        // A quote by currency takes the new default book, which has no prices yet.
        let deal = try await world.opportunity()
        await expectRPCError(.failedPrecondition, mentioning: "has no price in price book \(newDefault.id) (EUR)") {
            try await admin.createQuote(opportunity: deal.opportunity.id, currency: "EUR",
                                        Q.content([Q.section("G", [Q.line("1", product: world.widget.id)])]))
        }
        let price = try await admin.setPrice(book: newDefault.id, product: world.widget.id, 1300)
        #expect(price.currency == "EUR" && price.unitPriceMinor == 1300)
        #expect(try await admin.setPrice(book: newDefault.id, product: world.widget.id, 1300) == price, "the same price changes nothing")
        let quote = try await admin.createQuote(opportunity: deal.opportunity.id, currency: "EUR",
                                                Q.content([Q.section("G", [Q.line("1", product: world.widget.id)])]))
        #expect(quote.priceBookID == newDefault.id && quote.totals.totalMinor == 1300)
        await expectRPCError(.invalidArgument, mentioning: "unit_price_minor") { try await admin.setPrice(book: newDefault.id, product: world.widget.id, -5) }
        await expectRPCError(.notFound, mentioning: "product_id: product 99") { try await admin.setPrice(book: newDefault.id, product: 99, 5) }
        await expectRPCError(.notFound, mentioning: "price_book_id: price book 99") { try await admin.setPrice(book: 99, product: world.widget.id, 5) }
        let prices: Crm_B2b_V1_ListPricesResponse = try await admin.call("ListPrices", Crm_B2b_V1_ListPricesRequest.with { $0.priceBookID = world.eur.id })
        #expect(prices.prices.map(\.unitPriceMinor) == [1250, 8000])
    }
}

/// crmctl calls b2b's methods with JSON: decimal quantities as strings,
/// enums by name, int64 as strings; a bad one answers its status.
@Suite struct B2BCrmctlTests {
    @Test func crmctlPricesAQuoteFromJSON() async throws {
        let world = try await B2BWorld.start(users: [])
        let run = try CrmctlRun.run(["call", "/crm.b2b.v1.B2B/PriceQuote", """
            {"priceBookId":"\(world.eur.id)","content":{"rounding":{"mode":"ROUNDING_MODE_HALF_UP","level":"ROUNDING_LEVEL_ON_TOTAL"},
             "sections":[{"title":"Goods","lines":[{"productId":"\(world.widget.id)","quantity":"2.5","taxRateBp":2000}]}]}}
            """], socket: world.crmd.socketPath)
        #expect(run.status == 0, "\(run.stderr)")
        let priced = try Crm_B2b_V1_PricedQuote(jsonString: run.stdout)
        #expect(priced.totals.totalMinor == 3750 && priced.content.sections[0].lines[0].sku == "WIDGET")
        let bad = try CrmctlRun.run(["call", "/crm.b2b.v1.B2B/PriceQuote",
                                     "{\"priceBookId\":\"\(world.eur.id)\",\"content\":{\"sections\":[]}}"], socket: world.crmd.socketPath)
        #expect(bad.status != 0 && bad.stderr.contains("INVALID_ARGUMENT") && bad.stderr.contains("rounding.mode is required"))
    }
}

/// b2b needs contacts and sales: without sales it is refused, saying why,
/// and its methods are not served; contacts keeps serving.
@Suite struct B2BDependencyTests {
    @Test func withoutSalesB2BIsRefusedNamingIt() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "b2b"])
        let plugins = try await allPlugins(try crmd.connect())
        let b2b = try #require(plugins.first { $0.name == "b2b" })
        #expect(b2b.state == .failed && b2b.reason.contains("sales"), "\(b2b.reason)")
        #expect(plugins.first { $0.name == "contacts" }?.state == .loaded)
        await expectRPCError(.unimplemented, mentioning: "unknown method /crm.b2b.v1.B2B/CreateProduct") {
            try await B2BClient(connection: try crmd.connect()).createProduct("A-1", "A")
        }
    }
}
