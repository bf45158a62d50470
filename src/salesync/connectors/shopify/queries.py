"""The GraphQL Admin API documents the connector sends, and their page sizes.

Shopify charges a query its *requested* cost before running it: every connection costs
its page size times what one node costs, and no single query may ask for more than 1,000
points (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits). Page sizes
keep each query well under that (an orders page asks for 850). Nested connections that
can outgrow their page (an order's line items and refunds, a product's variants) are
paged on their own afterwards, instead of every query asking for a huge page.
"""

from __future__ import annotations

ORDERS_PAGE = 4
CUSTOMERS_PAGE = 100
PRODUCTS_PAGE = 10
PAYOUTS_PAGE = 25
BALANCE_PAGE = 100
LOCATIONS_PAGE = 50

_SIZES = {
    "%LINES%": "10",
    "%MORE_LINES%": "50",
    "%REFUND_LINES%": "10",
    "%REFUND_TENDERS%": "5",
    "%MORE_REFUND_LINES%": "50",
    "%MORE_REFUND_TENDERS%": "20",
    "%VARIANTS%": "50",
    "%MORE_VARIANTS%": "100",
}


def _document(*parts: str) -> str:
    text = "".join(parts)
    for placeholder, size in _SIZES.items():
        text = text.replace(placeholder, size)
    return text


_LINE_ITEM = """
fragment LineItemFields on LineItem {
  id name sku quantity isGiftCard
  originalUnitPriceSet { shopMoney { amount currencyCode } }
  discountAllocations {
    allocatedAmountSet { shopMoney { amount currencyCode } }
    discountApplication {
      __typename
      ... on DiscountCodeApplication { code }
      ... on ManualDiscountApplication { title }
      ... on AutomaticDiscountApplication { title }
    }
  }
  taxLines { title rate priceSet { shopMoney { amount currencyCode } } }
}
"""

_REFUND = """
fragment RefundFields on Refund {
  legacyResourceId createdAt note
  refundLineItems(first: %LINES_OF_REFUND%) {
    pageInfo { hasNextPage }
    nodes {
      quantity
      lineItem { id }
      subtotalSet { shopMoney { amount currencyCode } }
      totalTaxSet { shopMoney { amount currencyCode } }
    }
  }
  transactions(first: %TENDERS_OF_REFUND%) {
    pageInfo { hasNextPage }
    nodes { kind status gateway amountSet { shopMoney { amount currencyCode } } }
  }
}
"""

_ORDER = """
fragment OrderFields on Order {
  id legacyResourceId name processedAt updatedAt test currencyCode taxesIncluded
  displayFinancialStatus
  customer { legacyResourceId }
  retailLocation { legacyResourceId }
  totalPriceSet { shopMoney { amount currencyCode } }
  totalTipReceivedSet { shopMoney { amount currencyCode } }
  lineItems(first: %LINES%) {
    pageInfo { hasNextPage endCursor }
    nodes { ...LineItemFields }
  }
  shippingLines(first: 3) {
    pageInfo { hasNextPage }
    nodes {
      discountedPriceSet { shopMoney { amount currencyCode } }
      taxLines { title rate priceSet { shopMoney { amount currencyCode } } }
    }
  }
  transactions(first: 50) {
    kind status gateway amountSet { shopMoney { amount currencyCode } }
  }
  refunds(first: 50) { ...RefundFields }
}
"""

ORDERS = _document(
    """
query SalesyncOrders($first: Int!, $after: String, $query: String, $sortKey: OrderSortKeys) {
  orders(first: $first, after: $after, query: $query, sortKey: $sortKey) {
    pageInfo { hasNextPage endCursor }
    nodes { ...OrderFields }
  }
}
""",
    _ORDER,
    _LINE_ITEM,
    _REFUND.replace("%LINES_OF_REFUND%", "%REFUND_LINES%").replace(
        "%TENDERS_OF_REFUND%", "%REFUND_TENDERS%"
    ),
)

MORE_LINE_ITEMS = _document(
    """
query SalesyncOrderLines($id: ID!, $after: String) {
  order(id: $id) {
    lineItems(first: %MORE_LINES%, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { ...LineItemFields }
    }
  }
}
""",
    _LINE_ITEM,
)

MORE_REFUNDS = _document(
    """
query SalesyncOrderRefunds($id: ID!) {
  order(id: $id) { refunds(first: 250) { ...RefundFields } }
}
""",
    _REFUND.replace("%LINES_OF_REFUND%", "%MORE_REFUND_LINES%").replace(
        "%TENDERS_OF_REFUND%", "%MORE_REFUND_TENDERS%"
    ),
)

REFUND_TRANSACTIONS = """
query SalesyncRefundTransactions($id: ID!) {
  order(id: $id) {
    refunds(first: 250) { legacyResourceId transactions(first: 50) { nodes { id } } }
  }
}
"""

CUSTOMERS = """
query SalesyncCustomers($first: Int!, $after: String, $query: String) {
  customers(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { id legacyResourceId firstName lastName email phone updatedAt }
  }
}
"""

PRODUCTS = _document("""
query SalesyncProducts($first: Int!, $after: String, $query: String) {
  products(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id legacyResourceId title productType status updatedAt
      variants(first: %VARIANTS%) {
        pageInfo { hasNextPage endCursor }
        nodes { legacyResourceId title sku price taxable }
      }
    }
  }
}
""")

MORE_VARIANTS = _document("""
query SalesyncProductVariants($id: ID!, $after: String) {
  product(id: $id) {
    variants(first: %MORE_VARIANTS%, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { legacyResourceId title sku price taxable }
    }
  }
}
""")

PAYOUTS = """
query SalesyncPayouts($first: Int!, $after: String, $query: String) {
  shopifyPaymentsAccount {
    payouts(first: $first, after: $after, query: $query, sortKey: ISSUED_AT) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id legacyResourceId issuedAt status transactionType
        net { amount currencyCode }
      }
    }
  }
}
"""

BALANCE_TRANSACTIONS = """
query SalesyncBalance($first: Int!, $after: String, $query: String) {
  shopifyPaymentsAccount {
    balanceTransactions(first: $first, after: $after, query: $query) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id type test sourceOrderTransactionId
        amount { amount currencyCode }
        fee { amount currencyCode }
        associatedOrder { id }
      }
    }
  }
}
"""

LOCATIONS = """
query SalesyncLocations($first: Int!, $after: String) {
  locations(first: $first, after: $after, includeInactive: true) {
    pageInfo { hasNextPage endCursor }
    nodes { legacyResourceId name isActive fulfillsOnlineOrders }
  }
}
"""

SHOP = """
query SalesyncShop { shop { myshopifyDomain name currencyCode ianaTimezone } }
"""

SUBSCRIBE = """
mutation SalesyncSubscribe($topic: WebhookSubscriptionTopic!, $uri: String!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: {uri: $uri, format: JSON}) {
    webhookSubscription { id }
    userErrors { field message }
  }
}
"""
