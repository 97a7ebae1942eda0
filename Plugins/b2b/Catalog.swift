import CRMPluginKit

/// The catalog's tables. A product's sku is unique case-insensitively
/// (sku_key); each currency has at most one default price book (a partial
/// unique index, so two defaults cannot both commit).
enum Catalog {
    static let schema = """
        CREATE TABLE b2b_products (
            id INTEGER PRIMARY KEY,
            sku TEXT NOT NULL,
            sku_key TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            description TEXT NOT NULL,
            unit TEXT NOT NULL,
            active INTEGER NOT NULL,
            version INTEGER NOT NULL,
            created_us INTEGER NOT NULL,
            updated_us INTEGER NOT NULL);
        CREATE TABLE b2b_price_books (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            currency TEXT NOT NULL,
            is_default INTEGER NOT NULL,
            created_us INTEGER NOT NULL);
        CREATE INDEX b2b_price_books_by_currency ON b2b_price_books (currency, id);
        CREATE UNIQUE INDEX b2b_price_books_default ON b2b_price_books (currency) WHERE is_default = 1;
        CREATE TABLE b2b_prices (
            price_book_id INTEGER NOT NULL REFERENCES b2b_price_books (id),
            product_id INTEGER NOT NULL REFERENCES b2b_products (id),
            unit_price_minor INTEGER NOT NULL,
            updated_us INTEGER NOT NULL,
            PRIMARY KEY (price_book_id, product_id));
        """

    /// What pricing needs of a product line: the product and its price in the book.
    struct Entry {
        var product: Product
        var unitPriceMinor: Int64?
    }

    /// The products `ids` and their prices in `book`, in one query.
    static func entries(_ db: Database, book: Int64, products ids: Set<Int64>) throws -> [Int64: Entry] {
        guard !ids.isEmpty else { return [:] }
        var out: [Int64: Entry] = [:]
        // Chunks keep the statement under SQLite's parameter limit.
        let sorted = ids.sorted()
        for start in stride(from: 0, to: sorted.count, by: 500) {
            let chunk = Array(sorted[start..<min(start + 500, sorted.count)])
            let marks = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
            for row in try db.query("""
                SELECT \(ProductMethods.columns), pr.unit_price_minor FROM b2b_products p
                LEFT JOIN b2b_prices pr ON pr.product_id = p.id AND pr.price_book_id = ?
                WHERE p.id IN (\(marks))
                """, [.integer(book)] + chunk.map { .integer($0) }) {
                let product = ProductMethods.decode(row)
                out[product.id] = Entry(product: product, unitPriceMinor: row[9].int)
            }
        }
        return out
    }
}
