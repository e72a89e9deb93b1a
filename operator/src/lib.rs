//! koinos-operator: reconciles `KoinosCluster` resources into running Koinos node clusters.
