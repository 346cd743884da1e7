use tessera_core as _;
