"""Operations: metrics, the ops HTTP server, logging set-up."""
