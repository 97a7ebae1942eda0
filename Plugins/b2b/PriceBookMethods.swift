import B2BContract
import CRMPluginKit

/// Price books (one currency each, one default per currency) and the
/// prices of products in them.
enum PriceBookMethods {
    static func register(on def: PluginDefinition) {
        def.unary(B2B.service + "CreatePriceBook", create)
        def.unary(B2B.service + "GetPriceBook", get)
        def.unary(B2B.service + "ListPriceBooks", list)
        def.unary(B2B.service + "SetPrice", setPrice)
        def.unary(B2B.service + "ListPrices", listPrices)
    }

    static let columns = "id, name, currency, is_default, created_us"

    static func decode(_ row: [SQLValue]) -> PriceBook {
        PriceBook.with {
            $0.id = row.int(0)
            $0.name = row.text(1)
            $0.currency = row.text(2)
            $0.isDefault = row.int(3) != 0
            $0.createdUnixUs = row.int(4)
        }
    }

    static func create(_ ctx: CallContext, _ req: Crm_B2b_V1_CreatePriceBookRequest) throws -> PriceBook {
        let db = try ctx.database
        let (previous, claim) = try B2B.idempotency.check(db, method: "CreatePriceBook", req, key: \.idempotencyKey)
        if let id = previous { return try require(db, id) }
        var book = req.priceBook
        try Check.text(&book.name, "price_book.name", max: 200, required: true)
        book.currency = book.currency.trimmedSpaces
        try Validate.currency(book.currency, "price_book.currency")
        let current = try defaultBook(db, currency: book.currency)
        if book.isDefault, let current {
            try db.execute("UPDATE b2b_price_books SET is_default = 0 WHERE id = ?", [.integer(current.id)])
            try audit(ctx, "update", old: current, new: PriceBook.with { $0 = current; $0.isDefault = false })
        }
        book.isDefault = book.isDefault || current == nil
        book.createdUnixUs = UTCClock.nowMicros()
        book.id = try db.execute("INSERT INTO b2b_price_books (name, currency, is_default, created_us) VALUES (?, ?, ?, ?)",
                                 [.text(book.name), .text(book.currency), .integer(book.isDefault ? 1 : 0),
                                  .integer(book.createdUnixUs)]).lastInsertID
        try audit(ctx, "create", old: nil, new: book)
        try B2B.idempotency.record(db, claim, resultID: book.id)
        return book
    }

    static func get(_ ctx: CallContext, _ req: Crm_B2b_V1_GetPriceBookRequest) throws -> PriceBook {
        try require(try ctx.database, req.id)
    }

    static func list(_ ctx: CallContext, _ req: Crm_B2b_V1_ListPriceBooksRequest) throws -> Crm_B2b_V1_ListPriceBooksResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        var filter = SQLFilter()
        if !req.currency.isEmpty {
            try Validate.currency(req.currency, "currency")
            filter.add("currency = ?", .text(req.currency))
        }
        if let after = paging.after { filter.add("id > ?", after[0]) }
        let page = try fetchPage(try ctx.database, "SELECT \(columns) FROM b2b_price_books \(filter.clause) ORDER BY id LIMIT ?",
                                 filter.parameters, paging, decode: decode, key: { [$0[0]] })
        return .with {
            $0.priceBooks = page.rows
            $0.nextPageToken = page.nextToken
        }
    }

    static func setPrice(_ ctx: CallContext, _ req: Crm_B2b_V1_SetPriceRequest) throws -> Crm_B2b_V1_Price {
        let db = try ctx.database
        let book = try require(db, req.priceBookID, field: "price_book_id")
        let product = try ProductMethods.require(db, req.productID, field: "product_id")
        try Check.amount(req.unitPriceMinor, "unit_price_minor")
        let old = try db.query("SELECT unit_price_minor, updated_us FROM b2b_prices WHERE price_book_id = ? AND product_id = ?",
                               [.integer(book.id), .integer(product.id)]).first
        var price = Crm_B2b_V1_Price.with {
            $0.priceBookID = book.id
            $0.productID = product.id
            $0.unitPriceMinor = req.unitPriceMinor
            $0.currency = book.currency
            $0.updatedUnixUs = old?.int(1) ?? 0
        }
        // The same price again is no change: nothing written, nothing audited.
        if let old, old.int(0) == req.unitPriceMinor { return price }
        price.updatedUnixUs = UTCClock.nowMicros()
        try db.execute("""
            INSERT INTO b2b_prices (price_book_id, product_id, unit_price_minor, updated_us) VALUES (?, ?, ?, ?)
            ON CONFLICT (price_book_id, product_id) DO UPDATE SET unit_price_minor = excluded.unit_price_minor,
                updated_us = excluded.updated_us
            """, [.integer(book.id), .integer(product.id), .integer(req.unitPriceMinor), .integer(price.updatedUnixUs)])
        try ctx.audit(AuditEntry(entity: "b2b.price", recordID: "\(book.id):\(product.id)", action: "set", changes: [
            FieldChange("unit_price_minor", old: old.map { String($0.int(0)) }, new: String(req.unitPriceMinor)),
        ]))
        return price
    }

    static func listPrices(_ ctx: CallContext, _ req: Crm_B2b_V1_ListPricesRequest) throws -> Crm_B2b_V1_ListPricesResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        let db = try ctx.database
        let book = try require(db, req.priceBookID, field: "price_book_id")
        var filter = SQLFilter()
        filter.add("price_book_id = ?", .integer(book.id))
        if let after = paging.after { filter.add("product_id > ?", after[0]) }
        let page = try fetchPage(db, """
            SELECT product_id, unit_price_minor, updated_us FROM b2b_prices \(filter.clause) ORDER BY product_id LIMIT ?
            """, filter.parameters, paging, decode: { row in
            Crm_B2b_V1_Price.with {
                $0.priceBookID = book.id
                $0.productID = row.int(0)
                $0.unitPriceMinor = row.int(1)
                $0.currency = book.currency
                $0.updatedUnixUs = row.int(2)
            }
        }, key: { [$0[0]] })
        return .with {
            $0.prices = page.rows
            $0.nextPageToken = page.nextToken
        }
    }

    static func require(_ db: Database, _ id: Int64, field: String = "id") throws -> PriceBook {
        try Validate.positiveID(id, field)
        guard let row = try db.query("SELECT \(columns) FROM b2b_price_books WHERE id = ?", [.integer(id)]).first else {
            throw PluginError.notFound("\(field): price book \(id) does not exist")
        }
        return decode(row)
    }

    static func defaultBook(_ db: Database, currency: String) throws -> PriceBook? {
        try db.query("SELECT \(columns) FROM b2b_price_books WHERE currency = ? AND is_default = 1",
                     [.text(currency)]).first.map(decode)
    }

    static func audit(_ ctx: CallContext, _ action: String, old: PriceBook?, new: PriceBook) throws {
        func fields(_ b: PriceBook) -> [String: String] {
            ["name": b.name, "currency": b.currency, "is_default": b.isDefault ? "true" : "false"]
        }
        try ctx.audit(AuditEntry(entity: "b2b.price_book", recordID: String(new.id), action: action,
                                 changes: FieldChange.between(old: old.map(fields) ?? [:], new: fields(new))))
    }
}
