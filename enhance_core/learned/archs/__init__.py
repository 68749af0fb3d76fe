"""Pure ``nn.Module`` network definitions, one small file per network."""
