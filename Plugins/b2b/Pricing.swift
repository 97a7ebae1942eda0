import B2BContract
import CRMPluginKit

/// Prices a quote's content: checks every field, fills each line's figures,
/// each section's totals, the quote's totals and its tax per rate. A pure
/// function of the content, the catalog entries and the currency, so the
/// same revision always prices (and renders) the same.
///
/// Lines: amount = round(q × p), net = round(q × p × (1 − d)) or amount −
/// discount amount, discount = amount − net (a 100 % discount leaves 0).
/// Tax PER_LINE: round(net × rate) per line. ON_TOTAL: round(Σ net × rate)
/// once per rate over the quote, shared out to the lines by the
/// largest-remainder method (ties to the earlier line), so every level adds
/// up exactly to the one above it.
enum Pricing {
    static let maxSections = 50
    static let maxLines = 2000

    struct Result {
        var content: QuoteContent
        var totals: Totals
        var taxes: [Crm_B2b_V1_TaxLine]
    }

    /// Checks `content`'s own fields (not its lines' products) and returns
    /// the product ids the lines name.
    static func validate(_ content: inout QuoteContent, prefix: String) throws -> Set<Int64> {
        try Check.text(&content.title, "\(prefix)title", max: 200)
        try Validate.maxLength(content.notes, "\(prefix)notes", 10_000)
        content.validUntil = content.validUntil.trimmedSpaces
        if !content.validUntil.isEmpty { try Validate.date(content.validUntil, "\(prefix)valid_until") }
        guard content.rounding.mode != .unspecified, content.rounding.mode.rawValue <= 2 else {
            throw PluginError.invalidArgument("\(prefix)rounding.mode is required: ROUNDING_MODE_HALF_EVEN or ROUNDING_MODE_HALF_UP")
        }
        guard content.rounding.level != .unspecified, content.rounding.level.rawValue <= 2 else {
            throw PluginError.invalidArgument("\(prefix)rounding.level is required: ROUNDING_LEVEL_PER_LINE or ROUNDING_LEVEL_ON_TOTAL")
        }
        guard (1...maxSections).contains(content.sections.count) else {
            throw PluginError.invalidArgument("\(prefix)sections: a quote has 1 to \(maxSections) sections, not \(content.sections.count)")
        }
        let lineCount = content.sections.reduce(0) { $0 + $1.lines.count }
        guard lineCount <= maxLines else {
            throw PluginError.invalidArgument("\(prefix)sections: \(lineCount) lines in all; a quote has at most \(maxLines)")
        }
        var products = Set<Int64>()
        for s in content.sections.indices {
            try Check.text(&content.sections[s].title, "\(prefix)sections[\(s)].title", max: 200)
            for l in content.sections[s].lines.indices {
                let field = "\(prefix)sections[\(s)].lines[\(l)]"
                let line = content.sections[s].lines[l]
                try Validate.optionalID(line.productID, "\(field).product_id")
                if line.productID > 0 { products.insert(line.productID) }
            }
        }
        return products
    }

    /// Prices validated content. `entries` are the catalog entries of the
    /// products named (from the quote's book); `keepInactive` the products
    /// an inactive state does not refuse (they were on the quote already).
    static func price(_ source: QuoteContent, currency: String, bookID: Int64, entries: [Int64: Catalog.Entry],
                      keepInactive: Set<Int64> = [], prefix: String) throws -> Result {
        var content = source
        let mode = content.rounding.mode
        // Per line: its section, its exact tax numerator (net × rate) and rate.
        var taxParts: [(s: Int, l: Int, numerator: Int128, rate: Int32)] = []
        for s in content.sections.indices {
            for l in content.sections[s].lines.indices {
                let field = "\(prefix)sections[\(s)].lines[\(l)]"
                var line = content.sections[s].lines[l]
                try fill(&line, field: field, currency: currency, bookID: bookID, entries: entries, keepInactive: keepInactive)
                let milli = try Quantity.parse(line.quantity, "\(field).quantity")
                line.quantity = Quantity.format(milli)
                let exact = Int128(milli) * Int128(line.unitPriceMinor)  // thousandths of minor units
                line.amountMinor = try Rounding.amount(Rounding.divide(exact, by: 1000, mode), "\(field) amount")
                if line.discountAmountMinor > 0 {
                    guard line.discountPercentBp == 0 else {
                        throw PluginError.invalidArgument("\(field): give discount_percent_bp or discount_amount_minor, not both")
                    }
                    guard line.discountAmountMinor <= line.amountMinor else {
                        throw PluginError.invalidArgument("\(field).discount_amount_minor \(line.discountAmountMinor) is more than "
                            + "the line's amount, \(line.amountMinor)")
                    }
                    line.netMinor = line.amountMinor - line.discountAmountMinor
                } else {
                    guard line.discountAmountMinor == 0 else {
                        throw PluginError.invalidArgument("\(field).discount_amount_minor must not be negative")
                    }
                    try Check.basisPoints(line.discountPercentBp, "\(field).discount_percent_bp")
                    let kept = Int128(10_000 - line.discountPercentBp)
                    line.netMinor = try Rounding.amount(Rounding.divide(exact * kept, by: 10_000_000, mode), "\(field) net")
                }
                line.discountMinor = line.amountMinor - line.netMinor
                try Check.basisPoints(line.taxRateBp, "\(field).tax_rate_bp")
                let numerator = Int128(line.netMinor) * Int128(line.taxRateBp)
                if content.rounding.level == .perLine {
                    line.taxMinor = try Rounding.amount(Rounding.divide(numerator, by: 10_000, mode), "\(field) tax")
                } else {
                    taxParts.append((s, l, numerator, line.taxRateBp))
                }
                content.sections[s].lines[l] = line
            }
        }
        if content.rounding.level == .onTotal { try shareTax(&content, taxParts, mode) }
        return try sum(content, prefix: prefix)
    }

    /// The product's description, sku, unit and book price on a product
    /// line; the required fields of a free line.
    private static func fill(_ line: inout LineItem, field: String, currency: String, bookID: Int64,
                             entries: [Int64: Catalog.Entry], keepInactive: Set<Int64>) throws {
        line.description_p = line.description_p.trimmedSpacesAndNewlines
        try Validate.maxLength(line.description_p, "\(field).description", 2000)
        if line.hasUnitPriceMinor { try Check.amount(line.unitPriceMinor, "\(field).unit_price_minor") }
        guard line.productID > 0 else {
            try Validate.required(line.description_p, "\(field).description")
            guard line.hasUnitPriceMinor else {
                throw PluginError.invalidArgument("\(field).unit_price_minor is required on a line without a product")
            }
            line.sku = ""
            line.unit = ""
            return
        }
        guard let entry = entries[line.productID] else {
            throw PluginError.notFound("\(field).product_id: product \(line.productID) does not exist")
        }
        if !entry.product.active && !keepInactive.contains(line.productID) {
            throw PluginError.failedPrecondition("\(field).product_id: product \(line.productID) (\(entry.product.sku)) is inactive")
        }
        guard let bookPrice = entry.unitPriceMinor else {
            throw PluginError.failedPrecondition("\(field).product_id: product \(line.productID) (\(entry.product.sku)) has no "
                + "price in price book \(bookID) (\(currency)); a quote's lines are priced from its book")
        }
        if !line.hasUnitPriceMinor { line.unitPriceMinor = bookPrice }
        if line.description_p.isEmpty { line.description_p = entry.product.name }
        line.sku = entry.product.sku
        line.unit = entry.product.unit
    }

    /// ON_TOTAL: per rate, the quote's tax rounded once, and each line's
    /// share: its exact tax rounded down, plus one minor unit to the lines
    /// with the largest remainders until the shares add up to the total.
    private static func shareTax(_ content: inout QuoteContent, _ parts: [(s: Int, l: Int, numerator: Int128, rate: Int32)],
                                 _ mode: Crm_B2b_V1_RoundingMode) throws {
        var byRate: [Int32: [Int]] = [:]
        for (index, part) in parts.enumerated() { byRate[part.rate, default: []].append(index) }
        for (_, indices) in byRate {
            let exact = indices.reduce(Int128(0)) { $0 + parts[$1].numerator }
            let total = Rounding.divide(exact, by: 10_000, mode)
            var shares = indices.map { parts[$0].numerator / 10_000 }
            var extra = total - shares.reduce(0, +)  // 0 ... count of lines with a remainder
            let order = indices.indices.sorted { a, b in
                let ra = parts[indices[a]].numerator % 10_000, rb = parts[indices[b]].numerator % 10_000
                return ra != rb ? ra > rb : a < b
            }
            for position in order where extra > 0 {
                shares[position] += 1
                extra -= 1
            }
            for (position, index) in indices.enumerated() {
                let part = parts[index]
                content.sections[part.s].lines[part.l].taxMinor = try Rounding.amount(shares[position],
                    "sections[\(part.s)].lines[\(part.l)] tax")
            }
        }
    }

    /// Line totals, section totals, the quote's totals and tax lines: each
    /// the exact sum of what is shown beneath it.
    private static func sum(_ source: QuoteContent, prefix: String) throws -> Result {
        var content = source
        var quote = (amount: Int128(0), discount: Int128(0), net: Int128(0), tax: Int128(0))
        var rates: [Int32: (base: Int128, tax: Int128)] = [:]
        for s in content.sections.indices {
            var section = (amount: Int128(0), discount: Int128(0), net: Int128(0), tax: Int128(0))
            for l in content.sections[s].lines.indices {
                var line = content.sections[s].lines[l]
                line.totalMinor = try Rounding.amount(Int128(line.netMinor) + Int128(line.taxMinor),
                                                      "\(prefix)sections[\(s)].lines[\(l)] total")
                content.sections[s].lines[l] = line
                section.amount += Int128(line.amountMinor)
                section.discount += Int128(line.discountMinor)
                section.net += Int128(line.netMinor)
                section.tax += Int128(line.taxMinor)
                rates[line.taxRateBp, default: (0, 0)].base += Int128(line.netMinor)
                rates[line.taxRateBp, default: (0, 0)].tax += Int128(line.taxMinor)
            }
            content.sections[s].totals = try totals(section, "\(prefix)sections[\(s)]")
            quote.amount += section.amount
            quote.discount += section.discount
            quote.net += section.net
            quote.tax += section.tax
        }
        let quoteTotals = try totals(quote, "the quote")
        let taxes = try rates.keys.sorted().map { rate in
            let figures = rates[rate]!  // a key of the dictionary
            return try Crm_B2b_V1_TaxLine.with {
                $0.rateBp = rate
                $0.baseMinor = try Rounding.amount(figures.base, "the tax base at \(Format.percent(Int64(rate)))")
                $0.taxMinor = try Rounding.amount(figures.tax, "the tax at \(Format.percent(Int64(rate)))")
            }
        }
        return Result(content: content, totals: quoteTotals, taxes: taxes)
    }

    private static func totals(_ t: (amount: Int128, discount: Int128, net: Int128, tax: Int128), _ what: String) throws -> Totals {
        try Totals.with {
            $0.amountMinor = try Rounding.amount(t.amount, "\(what) amount")
            $0.discountMinor = try Rounding.amount(t.discount, "\(what) discount")
            $0.netMinor = try Rounding.amount(t.net, "\(what) net")
            $0.taxMinor = try Rounding.amount(t.tax, "\(what) tax")
            $0.totalMinor = try Rounding.amount(t.net + t.tax, "\(what) total")
        }
    }
}
