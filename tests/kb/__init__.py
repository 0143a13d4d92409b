"""Tests of the knowledge base and of the example knowledge base that the customer-service preset ships."""
